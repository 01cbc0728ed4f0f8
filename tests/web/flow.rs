//! The desk's flow (#16), in Chromium as staff use it: after each decision
//! the next offer of the same filtered queue, and the queue saying it is
//! empty at the end; filters that stick through offers, pages and bulk
//! actions; the keys; Undo within the window, which sends nothing to the
//! donor's real mailbox while a kept decision's email arrives; reopening;
//! errors beside the field with what was typed kept; Back after a send
//! sending nothing again; and the questions asked before a decline, an
//! item's removal and a merge of two donors' offers.

use std::time::Duration;

use axum::http::StatusCode;
use fantoccini::Locator;
use supplyline::config::WebConfig;

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::common;
use crate::http::{call, login_http, post};
use crate::pages::signed_in;

/// Seeds an offer from `email` with one line of `qty` × `what` at `postal`.
async fn seed(
    app: &TestApp,
    email: &str,
    subject: &str,
    postal: &str,
    what: &str,
    qty: f64,
) -> i64 {
    let raw = format!(
        "From: Donor <{email}>\nSubject: {subject}\nMessage-ID: <{}@flow.example>\n\n{qty} {what}\n",
        subject.replace(' ', "-")
    );
    app.seed(
        raw.as_bytes(),
        offer(
            email,
            "Donor",
            subject,
            postal,
            vec![item(what, qty, "each", &[])],
        ),
    )
    .await
}

/// The path and query the browser shows.
async fn address(b: &Browser) -> String {
    let url = b.client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Clicks `css` and waits for the page it leads to.
async fn click_and_wait(b: &Browser, css: &str) {
    let old = b.wait_for("body").await;
    b.wait_for(css).await.click().await.unwrap();
    b.wait_for_next_page(&old).await;
    b.wait_for("body").await;
}

/// Types `keys` on the page, as a keyboard user does.
async fn press(b: &Browser, keys: &str) {
    let body = b.client.find(Locator::Css("body")).await.unwrap();
    body.send_keys(keys).await.unwrap();
}

/// Types `keys` into whatever has the focus now.
async fn type_here(b: &Browser, keys: &str) {
    let el = b.client.active_element().await.unwrap();
    el.send_keys(keys).await.unwrap();
}

async fn focused_id(b: &Browser) -> String {
    b.run("return document.activeElement ? document.activeElement.id : '';")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn value_of(b: &Browser, id: &str) -> String {
    b.run(&format!("return document.getElementById('{id}').value;"))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Declines the offer shown, telling the donor, through the preview.
async fn decline_shown(b: &Browser, reason: &str) {
    b.run("document.getElementById('decline').open = true;")
        .await;
    b.type_into("decline-reason", reason).await;
    click_and_wait(b, "#decline-preview").await;
    click_and_wait(b, "#confirm-decline").await;
}

#[tokio::test]
async fn each_decision_goes_to_the_next_offer_of_the_filtered_queue_then_says_it_is_empty() {
    let app = TestApp::start().await;
    let big = seed(
        &app,
        "a@flow.example",
        "masks a lot",
        "90501",
        "n95_respirator",
        900.0,
    )
    .await;
    let other = seed(
        &app,
        "b@flow.example",
        "gloves far",
        "10001",
        "exam_gloves",
        500.0,
    )
    .await;
    let small = seed(
        &app,
        "c@flow.example",
        "masks few",
        "90502",
        "n95_respirator",
        10.0,
    )
    .await;
    let b = signed_in(&app.url("/"), "triager@city.example").await;
    // The queue filtered to postal codes 905…: the first row carries the filter.
    b.goto(&app.url("/?postal=905")).await;
    b.wait_for("tr.offer-row").await;
    press(&b, "\u{E007}").await;
    b.wait_for("#items").await;
    assert_eq!(address(&b).await, format!("/offers/{big}?postal=905&"));
    // Spam: on to the next offer of the same filter (not the 10001 one).
    b.run("document.getElementById('spam-or-merge').open = true;")
        .await;
    click_and_wait(&b, "#spam-button").await;
    let at = address(&b).await;
    assert!(
        at.starts_with(&format!("/offers/{small}?postal=905&undo=")),
        "{at}"
    );
    assert!(b.text().await.contains("Marked spam: SL-000001"));
    // A decline of the last one: back to the queue, filter kept, empty.
    decline_shown(&b, "we have enough").await;
    let at = address(&b).await;
    assert!(at.starts_with("/?postal=905&empty=1"), "{at}");
    let text = b.text().await;
    assert!(text.contains("The queue is empty"), "{text}");
    assert!(text.contains("Declined: SL-000003"), "{text}");
    assert_eq!(app.store.offer(other).await.unwrap().offer.status, "new");
    b.close().await;

    // Pages and bulk actions keep the filter too.
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let (status, location, _) = call(
        &app,
        post(
            "/bulk?status=all&postal=1000&page=1",
            &cookie,
            &format!("csrf={csrf}&ids={other}&action=spam"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.starts_with("/?status=all&postal=1000&page=1&done=1"),
        "{location}"
    );
}

#[tokio::test]
async fn keys_move_between_offers_and_put_the_cursor_in_the_field_without_typing_the_key() {
    let app = TestApp::start().await;
    let first = seed(
        &app,
        "a@keys.example",
        "masks many",
        "90501",
        "n95_respirator",
        900.0,
    )
    .await;
    let second = seed(
        &app,
        "b@keys.example",
        "masks some",
        "90501",
        "n95_respirator",
        50.0,
    )
    .await;
    let b = signed_in(&app.url("/"), "triager@city.example").await;
    b.goto(&app.url(&format!("/offers/{first}?status=open&")))
        .await;
    b.wait_for("#items").await;
    // j: the next offer of the queue, with the queue's filter; k: back.
    let old = b.wait_for("body").await;
    press(&b, "j").await;
    b.wait_for_next_page(&old).await;
    b.wait_for("#items").await;
    assert_eq!(address(&b).await, format!("/offers/{second}?status=open&"));
    let old = b.wait_for("body").await;
    press(&b, "k").await;
    b.wait_for_next_page(&old).await;
    b.wait_for("#items").await;
    assert_eq!(address(&b).await, format!("/offers/{first}?status=open&"));

    // d opens the decline reason; what follows is typed there, without the d,
    // and keys typed in a field are text, not commands.
    press(&b, "d").await;
    assert_eq!(focused_id(&b).await, "decline-reason");
    type_here(&b, "jk not needed").await;
    assert_eq!(value_of(&b, "decline-reason").await, "jk not needed");
    assert_eq!(address(&b).await, format!("/offers/{first}?status=open&"));
    for (key, field) in [
        ("n", "note-body"),
        ("a", "date"),
        ("m", "merge-into"),
        ("s", "spam-button"),
    ] {
        b.run("document.activeElement.blur();").await;
        press(&b, key).await;
        assert_eq!(focused_id(&b).await, field, "key {key}");
    }
    b.run("document.activeElement.blur();").await;
    press(&b, "n").await;
    type_here(&b, "call first").await;
    assert_eq!(value_of(&b, "note-body").await, "call first");
    // o: nothing to assign on this page yet, and nothing breaks.
    b.run("document.activeElement.blur();").await;
    press(&b, "o").await;
    assert_eq!(address(&b).await, format!("/offers/{first}?status=open&"));
    // ?: the keys, listed.
    press(&b, "?").await;
    let help = b.wait_for("#key-help").await;
    let text = help.text().await.unwrap();
    for want in [
        "next / previous offer",
        "decline",
        "spam",
        "merge",
        "note",
        "assign",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    b.close().await;
}

/// Waits until the replies queued now are due, then lets the real sender
/// deliver them; returns what `donor`'s mailbox holds (`n` expected).
async fn deliver_when_due(app: &TestApp, donor: &str, n: usize) -> Vec<String> {
    while let Some(due) = app.store.next_reply_due().await.unwrap() {
        let wait = due - supplyline::store::now_ms();
        if wait <= 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(wait as u64 + 50)).await;
    }
    app.send_all_to_mailbox(donor, n).await
}

#[tokio::test]
async fn an_undone_decision_sends_nothing_and_a_kept_one_arrives_and_closed_offers_reopen() {
    let _stack = common::stack_shared().await;
    // The default undo time (10 s).
    let app = TestApp::start_with(WebConfig::default()).await;
    let undone_donor = common::unique_address("flow-undone");
    let kept_donor = common::unique_address("flow-kept");
    let undone = seed(
        &app,
        &undone_donor,
        "gloves undone",
        "90501",
        "exam_gloves",
        300.0,
    )
    .await;
    let kept = seed(
        &app,
        &kept_donor,
        "gloves kept",
        "90501",
        "exam_gloves",
        200.0,
    )
    .await;
    let b = signed_in(&app.url("/"), "triager@city.example").await;
    b.goto(&app.url(&format!("/offers/{undone}"))).await;
    b.wait_for("#items").await;
    decline_shown(&b, "we have enough gloves").await;
    // On the next offer, the confirmation with Undo.
    assert!(address(&b)
        .await
        .starts_with(&format!("/offers/{kept}?undo=")));
    let banner = b.wait_for("#undo-banner").await.text().await.unwrap();
    b.screenshot("flow-undo.png").await;
    assert!(banner.contains("Declined: SL-000001"), "{banner}");
    click_and_wait(&b, "#undo").await;
    assert_eq!(address(&b).await, format!("/offers/{undone}?undone=1"));
    assert!(b.text().await.contains("Undone"));
    assert_eq!(app.store.offer(undone).await.unwrap().offer.status, "new");
    // The other decision is kept.
    b.goto(&app.url(&format!("/offers/{kept}"))).await;
    b.wait_for("#items").await;
    decline_shown(&b, "no room for gloves").await;
    assert_eq!(
        app.store.offer(kept).await.unwrap().offer.status,
        "declined"
    );

    // The kept decline arrives once its window is over; the undone one,
    // due earlier, never left.
    let got = deliver_when_due(&app, &kept_donor, 1).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("no room for gloves"), "{}", got[0]);
    assert!(common::fetch_all(&undone_donor, "INBOX").await.is_empty());
    let replies = app.store.offer(undone).await.unwrap().replies;
    assert!(
        replies.iter().all(|r| r.state == "discarded"),
        "{replies:?}"
    );

    // A closed offer reopens, and its history shows the undo and the reopen.
    b.goto(&app.url(&format!("/offers/{kept}"))).await;
    click_and_wait(&b, "#reopen").await;
    assert_eq!(app.store.offer(kept).await.unwrap().offer.status, "new");
    b.goto(&app.url(&format!("/offers/{undone}"))).await;
    let history = b.wait_for("ol.history").await.text().await.unwrap();
    assert!(
        history.contains("undone: declined undone, back to new"),
        "{history}"
    );
    assert!(history.contains("reply_discarded"), "{history}");
    b.goto(&app.url(&format!("/offers/{kept}"))).await;
    let history = b.wait_for("ol.history").await.text().await.unwrap();
    assert!(
        history.contains("reopened: was declined, now new"),
        "{history}"
    );
    b.close().await;
}

#[tokio::test]
async fn errors_keep_what_was_typed_beside_the_field_and_back_does_not_send_again() {
    let app = TestApp::start().await;
    let id = seed(
        &app,
        "a@errors.example",
        "masks",
        "90501",
        "n95_respirator",
        100.0,
    )
    .await;
    let next = seed(
        &app,
        "b@errors.example",
        "gowns",
        "90501",
        "isolation_gown",
        10.0,
    )
    .await;
    let b = signed_in(&app.url("/"), "triager@city.example").await;
    b.goto(&app.url(&format!("/offers/{id}"))).await;
    b.wait_for("#items").await;
    b.type_into("new-item", "face_shield").await;
    b.type_into("new-quantity", "lots").await;
    click_and_wait(&b, "form.add button").await;
    let error = b.wait_for("#item-new-error").await.text().await.unwrap();
    assert!(!error.is_empty());
    assert_eq!(value_of(&b, "new-item").await, "face_shield");
    assert_eq!(value_of(&b, "new-quantity").await, "lots");
    assert!(
        b.text().await.contains("Items"),
        "the offer page, not an error page"
    );
    // A merge into something that is no reference.
    b.run("document.getElementById('spam-or-merge').open = true;")
        .await;
    b.type_into("merge-into", "yesterday's").await;
    click_and_wait(&b, "#merge-button").await;
    b.wait_for("#merge-error").await;
    assert_eq!(value_of(&b, "merge-into").await, "yesterday's");
    // A note, then Back: the note is not added twice.
    b.goto(&app.url(&format!("/offers/{id}"))).await;
    b.type_into("note-body", "call first").await;
    click_and_wait(&b, "#add-note").await;
    b.client.back().await.unwrap();
    b.wait_for("body").await;
    assert_eq!(app.store.notes(id).await.unwrap().len(), 1);
    // Accept and send, then Back: one accept, one email.
    b.goto(&app.url(&format!("/offers/{id}"))).await;
    b.wait_for("#items").await;
    b.run("document.getElementById('date').value = '2030-01-15';")
        .await;
    click_and_wait(&b, "#preview").await;
    click_and_wait(&b, "#send").await;
    assert!(address(&b).await.starts_with(&format!("/offers/{next}")));
    b.client.back().await.unwrap();
    b.wait_for("body").await;
    let history = app.store.offer_history(id).await.unwrap();
    let accepts = history.iter().filter(|h| h.action == "accepted").count();
    assert_eq!(accepts, 1);
    assert_eq!(app.store.offer(id).await.unwrap().replies.len(), 1);
    b.close().await;
}

#[tokio::test]
async fn decline_removal_and_merging_two_donors_ask_first() {
    let app = TestApp::start().await;
    let a = seed(
        &app,
        "a@ask.example",
        "masks",
        "90501",
        "n95_respirator",
        100.0,
    )
    .await;
    let b_offer = seed(
        &app,
        "b@ask.example",
        "masks too",
        "90501",
        "n95_respirator",
        90.0,
    )
    .await;
    let same = seed(
        &app,
        "a@ask.example",
        "masks again",
        "90501",
        "n95_respirator",
        80.0,
    )
    .await;
    let b = signed_in(&app.url("/"), "triager@city.example").await;

    // Removing an item asks first.
    b.goto(&app.url(&format!("/offers/{a}"))).await;
    click_and_wait(&b, "#remove-1").await;
    let ask = b.wait_for("#remove-warning").await.text().await.unwrap();
    assert!(ask.contains("n95_respirator"), "{ask}");
    assert_eq!(app.store.items_full(a).await.unwrap().len(), 1);
    click_and_wait(&b, "#confirm-remove").await;
    assert!(app.store.items_full(a).await.unwrap().is_empty());

    // Merging into another donor's offer asks first.
    b.goto(&app.url(&format!("/offers/{a}"))).await;
    b.run("document.getElementById('spam-or-merge').open = true;")
        .await;
    b.type_into("merge-into", &format!("SL-{b_offer:06}")).await;
    click_and_wait(&b, "#merge-button").await;
    let ask = b.wait_for("#merge-warning").await.text().await.unwrap();
    assert!(
        ask.contains("a@ask.example") && ask.contains("b@ask.example"),
        "{ask}"
    );
    assert_eq!(app.store.offer(a).await.unwrap().offer.status, "new");
    click_and_wait(&b, "#cancel").await;
    // The same donor's duplicate merges at once.
    b.goto(&app.url(&format!("/offers/{same}"))).await;
    b.run("document.getElementById('spam-or-merge').open = true;")
        .await;
    b.type_into("merge-into", &format!("SL-{a:06}")).await;
    click_and_wait(&b, "#merge-button").await;
    assert_eq!(app.store.offer(same).await.unwrap().offer.status, "merged");

    // A decline shows the email before it goes.
    b.goto(&app.url(&format!("/offers/{b_offer}"))).await;
    b.run("document.getElementById('decline').open = true;")
        .await;
    b.type_into("decline-reason", "we only take unopened boxes")
        .await;
    click_and_wait(&b, "#decline-preview").await;
    let preview = b.text().await;
    assert!(
        preview.contains("To: b@ask.example") || preview.contains("b@ask.example"),
        "{preview}"
    );
    assert!(preview.contains("we only take unopened boxes"), "{preview}");
    assert_eq!(app.store.offer(b_offer).await.unwrap().offer.status, "new");
    click_and_wait(&b, "#confirm-decline").await;
    assert_eq!(
        app.store.offer(b_offer).await.unwrap().offer.status,
        "declined"
    );
    b.close().await;
}

/// Sends a decision's form; returns the undo window its answer names.
async fn decide_http(app: &TestApp, cookie: &str, path: &str, form: &str) -> i64 {
    let (status, location, page) = call(app, post(path, cookie, form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{path}: {page}");
    location
        .split("undo=")
        .nth(1)
        .and_then(|rest| rest.split('&').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no undo window in {location}"))
}

async fn undo_http(app: &TestApp, cookie: &str, csrf: &str, window: i64) -> (StatusCode, String) {
    let (status, _, page) = call(
        app,
        post(&format!("/undo/{window}"), cookie, &format!("csrf={csrf}")),
    )
    .await;
    (status, page)
}

#[tokio::test]
async fn undo_puts_back_each_kind_of_decision_and_refuses_late_or_sent_ones() {
    let app = TestApp::start_with(WebConfig {
        undo_secs: 600,
        ..WebConfig::default()
    })
    .await;
    let a = seed(
        &app,
        "a@undo.example",
        "masks",
        "90501",
        "n95_respirator",
        100.0,
    )
    .await;
    let b = seed(
        &app,
        "b@undo.example",
        "gowns",
        "90501",
        "isolation_gown",
        10.0,
    )
    .await;
    let dup = seed(
        &app,
        "a@undo.example",
        "masks again",
        "90501",
        "n95_respirator",
        5.0,
    )
    .await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let slot = format!("csrf={csrf}&site=Central+depot&date=2030-01-15&from=09:00&to=12:00");

    // Accept, undone: no pickup, the email discarded.
    let w = decide_http(&app, &cookie, &format!("/offers/{a}/accept"), &slot).await;
    assert_eq!(
        undo_http(&app, &cookie, &csrf, w).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.store.offer(a).await.unwrap().offer.status, "new");
    assert_eq!(app.store.decision(a).await.unwrap().pickup_site, None);
    // Its slot is free again: the booking is taken back.
    assert!(app.store.booking(a).await.unwrap().is_none());
    let replies = app.store.offer(a).await.unwrap().replies;
    assert!(
        replies.iter().all(|r| r.state == "discarded"),
        "{replies:?}"
    );
    // A second undo of the same window is refused.
    let (status, page) = undo_http(&app, &cookie, &csrf, w).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("already undone"), "{page}");

    // Merge, undone: the duplicate has its message back.
    let form = format!("csrf={csrf}&into=SL-{a:06}");
    let w = decide_http(&app, &cookie, &format!("/offers/{dup}/merge"), &form).await;
    assert!(app.store.offer(dup).await.unwrap().messages.is_empty());
    undo_http(&app, &cookie, &csrf, w).await;
    let detail = app.store.offer(dup).await.unwrap();
    assert_eq!(detail.offer.status, "new");
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(app.store.decision(dup).await.unwrap().merged_into, None);

    // Spam, undone.
    let form = format!("csrf={csrf}");
    let w = decide_http(&app, &cookie, &format!("/offers/{dup}/spam"), &form).await;
    undo_http(&app, &cookie, &csrf, w).await;
    assert_eq!(app.store.offer(dup).await.unwrap().offer.status, "new");

    // Received, undone: scheduled again, nothing recorded as arrived.
    decide_http(&app, &cookie, &format!("/offers/{b}/accept"), &slot).await;
    let line = app.store.items_full(b).await.unwrap()[0].id;
    let form = format!("csrf={csrf}&item_id={line}&received=7");
    let w = decide_http(&app, &cookie, &format!("/offers/{b}/received"), &form).await;
    assert_eq!(
        app.store.items_full(b).await.unwrap()[0].received_quantity,
        Some(7.0)
    );
    undo_http(&app, &cookie, &csrf, w).await;
    assert_eq!(app.store.offer(b).await.unwrap().offer.status, "scheduled");
    assert_eq!(
        app.store.items_full(b).await.unwrap()[0].received_quantity,
        None
    );

    // An email that has left cannot be undone: the offer stays declined.
    let desk = supplyline::decide::Desk {
        store: &app.store,
        composer: &app.state.composer,
        actor: "triager@city.example",
    };
    let before = app.store.offer_before(a).await.unwrap();
    let mut tx = supplyline::decide::decline_tx(desk, a.into(), "no", true, None)
        .await
        .unwrap();
    let until = supplyline::store::now_ms() + 600_000;
    let w = tx
        .open_undo_window(
            a,
            "triager@city.example",
            "declined",
            "declined".parse().unwrap(),
            &before,
            until,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.send_all().await.len(), 1);
    let (status, page) = undo_http(&app, &cookie, &csrf, w).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("has already left"), "{page}");
    assert_eq!(app.store.offer(a).await.unwrap().offer.status, "declined");
}

#[tokio::test]
async fn without_an_undo_time_the_email_leaves_at_once_and_undo_is_refused_on_the_offer_page() {
    let app = TestApp::start().await;
    let a = seed(
        &app,
        "a@late.example",
        "masks",
        "90501",
        "n95_respirator",
        100.0,
    )
    .await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let form = format!("csrf={csrf}&reason=enough&notify=1");
    let w = decide_http(&app, &cookie, &format!("/offers/{a}/decline"), &form).await;
    assert_eq!(app.send_all().await.len(), 1, "due at once");
    let (status, page) = undo_http(&app, &cookie, &csrf, w).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        page.contains("id=\"undo-error\""),
        "beside the banner: {page}"
    );
    assert!(
        page.contains("time to undo this decision is over"),
        "{page}"
    );
    assert_eq!(app.store.offer(a).await.unwrap().offer.status, "declined");
}

/// The previous and next offer an offer page links to.
async fn neighbours_of(
    app: &TestApp,
    cookie: &str,
    path: &str,
) -> (Option<String>, Option<String>) {
    let (status, _, page) = call(app, crate::http::get(path, cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let link = |id: &str| {
        let rest = page.split(&format!("id=\"{id}\" href=\"")).nth(1)?;
        Some(rest.split('"').next()?.replace("&amp;", "&"))
    };
    (link("prev-offer"), link("next-offer"))
}

#[tokio::test]
async fn offers_of_equal_priority_follow_each_other_in_queue_order() {
    let app = TestApp::start().await;
    // Not among the needs: all of priority 0, in id order after the needed one.
    let needed = seed(&app, "n@tie.example", "masks", "1", "n95_respirator", 10.0).await;
    let a = seed(&app, "a@tie.example", "chairs", "1", "office_chair", 1.0).await;
    let b = seed(&app, "b@tie.example", "desks", "1", "office_desk", 1.0).await;
    let c = seed(&app, "c@tie.example", "lamps", "1", "desk_lamp", 1.0).await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let at = |id: i64| format!("/offers/{id}?status=open&");
    assert_eq!(
        neighbours_of(&app, &cookie, &at(needed)).await,
        (None, Some(at(a)))
    );
    assert_eq!(
        neighbours_of(&app, &cookie, &at(a)).await,
        (Some(at(needed)), Some(at(b)))
    );
    assert_eq!(
        neighbours_of(&app, &cookie, &at(b)).await,
        (Some(at(a)), Some(at(c)))
    );
    assert_eq!(
        neighbours_of(&app, &cookie, &at(c)).await,
        (Some(at(b)), None)
    );
    // Sorted by donor, reversed, the neighbours follow that column instead.
    let by_donor = |id: i64| format!("/offers/{id}?status=open&sort=-donor&");
    assert_eq!(
        neighbours_of(&app, &cookie, &by_donor(c)).await,
        (Some(by_donor(needed)), Some(by_donor(b)))
    );
    assert_eq!(
        neighbours_of(&app, &cookie, &by_donor(a)).await,
        (Some(by_donor(b)), None)
    );
}

#[tokio::test]
async fn a_wrong_quantity_on_an_item_or_on_arrival_comes_back_as_typed_beside_the_form() {
    let app = TestApp::start().await;
    let id = seed(
        &app,
        "a@typed.example",
        "masks",
        "90501",
        "n95_respirator",
        100.0,
    )
    .await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let line = app.store.items_full(id).await.unwrap()[0].id;
    let (status, _, page) = call(
        &app,
        post(
            &format!("/offers/{id}/items/{line}"),
            &cookie,
            &format!("csrf={csrf}&item=n95_respirator&quantity=two+thousand&unit=each"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("value=\"two thousand\""), "{page}");
    assert!(page.contains("class=\"error field-error\""), "{page}");
    let slot = format!("csrf={csrf}&site=Central+depot&date=2030-01-15&from=09:00&to=12:00");
    let (status, _, _) = call(&app, post(&format!("/offers/{id}/accept"), &cookie, &slot)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = call(
        &app,
        post(
            &format!("/offers/{id}/received"),
            &cookie,
            &format!("csrf={csrf}&item_id={line}&received=a+few"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"received-error\""), "{page}");
    assert!(page.contains("value=\"a few\""), "{page}");
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "scheduled");
}
