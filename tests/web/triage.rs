//! Triage: the queue ordered by need, an offer corrected and accepted in
//! the browser with its pickup email read back from the donor's mailbox,
//! decline, spam, merge and received quantities, and failed messages.

use axum::http::StatusCode;
use supplyline::state::{MessageState, Role};
use supplyline::store::StoreOutcome;
use supplyline::web;

use crate::app::{item, offer, seed_two, TestApp, PASSWORD};
use crate::browser::Browser;
use crate::http::{call, get, login_http, post, press};
use crate::pages::LoginPage;

#[tokio::test]
async fn queue_is_ordered_by_need_and_filters_and_exports() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let (_, _, page) = call(&app, get("/", &cookie)).await;
    let (a, b) = (
        page.find(&format!("/offers/{dentist}\"")).unwrap(),
        page.find(&format!("/offers/{gloves}\"")).unwrap(),
    );
    assert!(a < b, "the N95 offer comes first");
    let (_, _, page) = call(&app, get("/?postal=90210", &cookie)).await;
    assert!(
        !page.contains(&format!("/offers/{dentist}\""))
            && page.contains(&format!("/offers/{gloves}\""))
    );
    let (_, _, page) = call(&app, get("/?q=dental", &cookie)).await;
    assert!(
        page.contains(&format!("/offers/{dentist}\""))
            && !page.contains(&format!("/offers/{gloves}\""))
    );
    let (status, _, csv) = call(&app, get("/export/items.csv?item=exam_gloves", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(r#""exam_gloves","3","box""#), "{csv}");
    let (status, _, page) = call(&app, get("/dashboard", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg") && page.contains("n95_respirator"));
    // Both offers came today (UTC), and the chart of days says so.
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert!(
        page.contains(&format!("<title>{today}: 2</title>")),
        "{page}"
    );
}

#[tokio::test]
async fn browser_login_correct_accept_and_the_pickup_email_goes_out() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    let b = Browser::start().await;
    let queue = LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    b.screenshot("queue.png").await;
    // The top offer is the N95 one; j and k move the keyboard down and up,
    // Enter opens the row it is on.
    let dentist_link = format!("/offers/{dentist}");
    assert_eq!(queue.offer_links().await[0], dentist_link);
    queue.press("j").await;
    assert_ne!(queue.current_offer_link().await, dentist_link);
    queue.press("k").await;
    assert_eq!(queue.current_offer_link().await, dentist_link);
    let offer = queue.open_current().await;
    assert!(offer.url().await.ends_with(&dentist_link));
    assert_eq!(
        offer.highlighted_spans().await,
        4,
        "each item's evidence is highlighted"
    );
    b.screenshot("offer.png").await;

    let offer = offer.correct_quantity(1, "1500").await;
    let items = app.store.items_full(dentist).await.unwrap();
    assert_eq!(items[0].quantity, Some(1500.0));
    assert_eq!(items[0].source, "staff");

    let preview = offer.accept_with_slot("2030-12-03", "09:00", "11:30").await;
    let email = preview.text().await;
    assert!(
        email.contains("Pickup instructions for your donation SL-"),
        "{email}"
    );
    assert!(
        email.contains("Central depot") && email.contains("09:00–11:30"),
        "{email}"
    );
    assert!(email.contains("1,500"), "{email}");
    b.screenshot("preview.png").await;
    let offer = preview.send().await;
    let text = offer.text().await;
    assert!(text.contains("Accepted: SL-000001"), "{text}");
    assert_eq!(
        app.store.offer(dentist).await.unwrap().offer.status,
        "scheduled"
    );
    b.goto(&app.url("/dashboard")).await;
    b.screenshot("dashboard.png").await;
    b.close().await;

    let sent = app.send_all_to_mailbox("ana@dentist.example", 1).await;
    assert_eq!(sent.len(), 1, "one pickup email in the donor's mailbox");
    let eml = &sent[0];
    assert!(
        eml.contains("To: \"Ana Ruiz\" <ana@dentist.example>")
            || eml.contains("To: Ana Ruiz <ana@dentist.example>"),
        "{eml}"
    );
    assert!(
        eml.contains("Subject: Pickup instructions for your donation SL-"),
        "{eml}"
    );
    assert!(
        eml.contains("In-Reply-To: <dentist-1@dentist.example>"),
        "{eml}"
    );
    assert!(
        eml.contains("Central depot") && eml.contains("1,500"),
        "{eml}"
    );
    assert!(
        eml.contains("Content-Type: text/calendar") && eml.contains(".ics"),
        "the calendar invite is attached: {eml}"
    );
    let history = app.store.offer_history(dentist).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert!(
        actions.contains(&"item_changed")
            && actions.contains(&"accepted")
            && actions.contains(&"reply_sent"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn decline_spam_merge_and_received_are_recorded() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let third = app
        .seed(
            b"From: Cy <cy@vet.example>\nSubject: masks again\nMessage-ID: <c@vet.example>\n\n100 masks\n",
            offer("cy@vet.example", "Cy", "masks again", "90501", vec![item("surgical_mask", 100.0, "each", &[])]),
        )
        .await;
    let fourth = app
        .seed(
            b"From: Di <di@x.example>\nSubject: buy now\nMessage-ID: <d@x.example>\n\ncheap\n",
            offer("di@x.example", "Di", "buy now", "", vec![]),
        )
        .await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let form = format!("csrf={csrf}&reason=We+only+take+unopened+boxes&notify=1");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{gloves}/decline"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = call(
        &app,
        post(
            "/bulk",
            &cookie,
            &format!("csrf={csrf}&ids={fourth}&action=spam"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, location, _) = call(
        &app,
        post(
            &format!("/offers/{third}/merge"),
            &cookie,
            &format!("csrf={csrf}&into=SL-{dentist:06}&confirmed=1"),
        ),
    )
    .await;
    // The desk goes on to the next offer of the queue.
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/offers/"), "{location}");
    // A closed offer refuses further decisions.
    let (status, _, page) = call(
        &app,
        post(
            &format!("/offers/{fourth}/decline"),
            &cookie,
            &format!("csrf={csrf}&reason=x"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("is spam"), "{page}");
    let statuses = [gloves, third, fourth].map(|id| {
        let store = app.store.clone();
        async move { store.offer(id).await.unwrap().offer.status }
    });
    let mut got = Vec::new();
    for s in statuses {
        got.push(s.await);
    }
    assert_eq!(got, ["declined", "merged", "spam"]);
    assert_eq!(
        app.store.offer(dentist).await.unwrap().messages.len(),
        2,
        "the duplicate's message joined"
    );
    let sent = app.send_all().await;
    assert_eq!(sent.len(), 1, "only the decline was emailed");
    assert!(
        sent[0].contains("We only take unopened boxes")
            && sent[0].contains("To: Bo <bo@salon.example>"),
        "{}",
        sent[0]
    );

    // Received: accepted offers record what arrived, and the dashboard shows it.
    let items = app.store.items_full(dentist).await.unwrap();
    let form = format!("csrf={csrf}&date=2030-12-02&from=09:00&to=10:00&site=Harbor+clinic");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/accept"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let form = format!(
        "csrf={csrf}&item_id={}&received=1800&item_id={}&received=40",
        items[0].id, items[1].id
    );
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/received"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let replies = app.store.offer(dentist).await.unwrap().replies;
    assert!(
        replies.iter().any(|r| r.kind == "thanks"),
        "a thank-you is queued on receipt: {replies:?}"
    );
    let stats = app.store.item_stats().await.unwrap();
    let n95 = stats.iter().find(|s| s.item == "n95_respirator").unwrap();
    assert_eq!(
        (n95.pledged, n95.accepted, n95.received, n95.target),
        (2000.0, 2000.0, 1800.0, Some(50000.0))
    );
    let (_, _, page) = call(&app, get(&format!("/offers/{dentist}"), &cookie)).await;
    assert!(
        page.contains("received 1800") && page.contains("Harbor clinic"),
        "{page}"
    );
}

#[tokio::test]
async fn failed_messages_are_listed_and_retried_by_an_admin() {
    let app = TestApp::start().await;
    let StoreOutcome::Stored(id) = app
        .store
        .store_local("INBOX", b"Subject: broken <x>\n\n\xff\xfe")
        .await
        .unwrap()
    else {
        panic!()
    };
    app.store.claim_received().await.unwrap();
    app.store
        .fail_message(id, "the message could not be parsed as MIME")
        .await
        .unwrap();
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let (_, _, page) = call(&app, get("/failed", &cookie)).await;
    assert!(
        page.contains("could not be parsed") && !page.contains("/retry"),
        "{page}"
    );
    let status = press(&app, &format!("/failed/{id}/retry"), &cookie, &csrf).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let hash = web::auth::hash_password(PASSWORD).unwrap();
    app.store
        .upsert_user("admin@city.example", &hash, Role::Admin)
        .await
        .unwrap();
    let (cookie, csrf) = login_http(&app, "admin@city.example").await;
    let status = press(&app, &format!("/failed/{id}/retry"), &cookie, &csrf).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store
            .list_messages(Some(MessageState::Received), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
