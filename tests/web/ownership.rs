//! Ownership and overview on the desk (#16), as staff use it in Chromium:
//! two colleagues in two browsers assign an offer, find it under "mine"
//! and see each other on it; the queue sorted by a clicked header with the
//! sort kept through the filters, and offers past the answer target
//! marked; a saved view saved, reused and deleted; select all with bulk
//! assign, set status and decline, the donors' real mailboxes getting the
//! declines.

use std::time::Duration;

use axum::http::StatusCode;
use fantoccini::Locator;
use supplyline::state::Role;

use crate::app::{item, offer, seed_two, TestApp, PASSWORD};
use crate::browser::Browser;
use crate::common;
use crate::http::{call, login_http, post};
use crate::pages::{signed_in, OfferPage, QueuePage};

const ME: &str = "triager@city.example";
const COLLEAGUE: &str = "colleague@city.example";

/// A second triager.
async fn add_colleague(app: &TestApp) {
    let hash = supplyline::web::auth::hash_password(PASSWORD).unwrap();
    app.store
        .upsert_user(COLLEAGUE, &hash, Role::Triager)
        .await
        .unwrap();
}

/// Waits until the text of `css` contains `want` (at most 40 s: an open
/// page pings every 15 s).
async fn wait_for_text(b: &Browser, css: &str, want: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let text = b.wait_for(css).await.text().await.unwrap();
        if text.contains(want) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} says {text:?}, never {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Chooses `value` in the `<select>` that `css` selects.
async fn choose(b: &Browser, css: &str, value: &str) {
    b.wait_for(css).await.select_by_value(value).await.unwrap();
}

/// Chooses the option labelled `label` in the `<select>` that `css` selects.
async fn choose_label(b: &Browser, css: &str, label: &str) {
    b.wait_for(css).await.select_by_label(label).await.unwrap();
}

/// Types `text` into the field that `css` selects.
async fn type_into(b: &Browser, css: &str, text: &str) {
    b.wait_for(css).await.send_keys(text).await.unwrap();
}

/// The offer links of the queue shown, top first.
async fn rows(b: &Browser) -> Vec<String> {
    QueuePage::loaded(b).await.offer_links().await
}

/// Sets an offer's received time `hours` back, as if it had waited that long.
async fn age_offer(app: &TestApp, id: i64, hours: i64) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    let at = supplyline::store::now_ms() - hours * 3_600_000;
    sqlx::query("UPDATE offers SET created_at = ? WHERE id = ?")
        .bind(at)
        .bind(id)
        .execute(&mut db)
        .await
        .unwrap();
}

#[tokio::test]
async fn two_colleagues_assign_find_it_under_mine_and_see_each_other_on_it() {
    let app = TestApp::start().await;
    add_colleague(&app).await;
    let (dentist, gloves) = seed_two(&app).await;
    let a = signed_in(&app.url("/"), ME).await;
    let b = signed_in(&app.url("/"), COLLEAGUE).await;

    // A gives the dentist's offer to the colleague.
    OfferPage::open(&a, &app.url(&format!("/offers/{dentist}"))).await;
    choose(&a, "#assign-to", COLLEAGUE).await;
    a.click_through("#assign").await;
    OfferPage::loaded(&a).await;
    assert_eq!(
        a.wait_for("#assignee").await.text().await.unwrap(),
        COLLEAGUE
    );
    let history = a.wait_for("ol.history").await.text().await.unwrap();
    assert!(
        history.contains(&format!("{ME} assigned: to {COLLEAGUE}")),
        "{history}"
    );

    // The colleague's "mine" has it, and only it; the queue shows A on it.
    b.goto(&app.url("/")).await;
    b.click_through("#view-mine").await;
    assert_eq!(rows(&b).await, [format!("/offers/{dentist}")]);
    let marker = b
        .wait_for("td.assigned .viewing")
        .await
        .text()
        .await
        .unwrap();
    assert!(marker.contains(ME), "{marker}");
    // The assigned column names the colleague.
    let queue_text = b.text().await;
    assert!(queue_text.contains(COLLEAGUE), "{queue_text}");

    // The colleague opens it and sees A there; A's page soon shows the colleague.
    OfferPage::open(&b, &app.url(&format!("/offers/{dentist}"))).await;
    let seen = b.wait_for("#presence").await.text().await.unwrap();
    assert!(seen.contains(ME), "{seen}");
    wait_for_text(&a, "#presence", COLLEAGUE).await;
    a.screenshot("ownership-offer.png").await;

    // The colleague takes the gloves too, in one click.
    OfferPage::open(&b, &app.url(&format!("/offers/{gloves}"))).await;
    b.click_through("#assign-me").await;
    assert_eq!(
        app.store.assignee(gloves).await.unwrap().as_deref(),
        Some(COLLEAGUE)
    );
    // A's "mine" is empty.
    a.goto(&app.url("/?owner=me")).await;
    let text = a.text().await;
    assert!(text.contains("no offer matches"), "{text}");
    a.close().await;
    b.close().await;
}

/// Three offers received 50, 10 and 1 hours ago, in that id order.
async fn seed_three_ages(app: &TestApp) -> [i64; 3] {
    let (dentist, gloves) = seed_two(app).await;
    let third = app
        .seed(
            b"From: Cy <cy@shop.example>\nSubject: face shields\nMessage-ID: <cy@shop.example>\n\nWe have 30 face shields.\n",
            offer("cy@shop.example", "Cy", "face shields", "90710", vec![item("face_shield", 30.0, "each", &[])]),
        )
        .await;
    for (id, hours) in [(dentist, 1), (gloves, 50), (third, 10)] {
        age_offer(app, id, hours).await;
    }
    [gloves, third, dentist]
}

#[tokio::test]
async fn a_clicked_header_sorts_the_queue_the_sort_stays_through_filters_and_late_offers_are_marked(
) {
    let app = TestApp::start().await;
    let oldest_first = seed_three_ages(&app).await;
    let links =
        |ids: &[i64]| -> Vec<String> { ids.iter().map(|id| format!("/offers/{id}")).collect() };
    let b = signed_in(&app.url("/"), ME).await;

    b.click_through("#sort-received").await;
    assert!(b.url().await.contains("sort=received"), "{}", b.url().await);
    assert_eq!(rows(&b).await, links(&oldest_first));
    let th = b.wait_for("th[aria-sort=descending] #sort-received").await;
    assert!(th.text().await.unwrap().contains('▼'));

    // Again: newest first.
    b.click_through("#sort-received").await;
    assert!(
        b.url().await.contains("sort=-received"),
        "{}",
        b.url().await
    );
    let mut newest_first = oldest_first;
    newest_first.reverse();
    assert_eq!(rows(&b).await, links(&newest_first));

    // Filtering keeps the sort.
    choose_label(&b, "select[name=language]", "en").await;
    b.click_through("form.filters button[type=submit]").await;
    let url = b.url().await;
    assert!(
        url.contains("sort=-received") && url.contains("language=en"),
        "{url}"
    );
    assert_eq!(rows(&b).await, links(&newest_first));

    // Only the one of 50 hours is past the 24 h target.
    let late = b.client.find_all(Locator::Css("td.overdue")).await.unwrap();
    assert_eq!(late.len(), 1);
    assert!(late[0]
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("overdue"));
    let text = b.text().await;
    assert!(text.contains("Answer within 24 h"), "{text}");
    b.screenshot("ownership-queue.png").await;
    b.close().await;
}

#[tokio::test]
async fn a_saved_view_is_listed_reused_and_deleted_and_is_its_owners_only() {
    let app = TestApp::start().await;
    add_colleague(&app).await;
    let oldest_first = seed_three_ages(&app).await;
    let b = signed_in(&app.url("/"), ME).await;

    b.goto(&app.url("/?owner=nobody&sort=received")).await;
    b.type_into("view-name", "Waiting longest").await;
    b.click_through("#save-view").await;
    assert!(b.url().await.contains("sort=received"), "{}", b.url().await);

    // Back on the plain queue, the view is listed; following it restores it.
    b.goto(&app.url("/")).await;
    let link = b.wait_for("a.view-link").await;
    assert_eq!(link.text().await.unwrap(), "Waiting longest");
    b.click_through("a.view-link").await;
    let url = b.url().await;
    assert!(
        url.contains("owner=nobody") && url.contains("sort=received"),
        "{url}"
    );
    assert_eq!(rows(&b).await[0], format!("/offers/{}", oldest_first[0]));
    let owner = b.client.find(Locator::Id("owner")).await.unwrap();
    assert_eq!(
        owner.prop("value").await.unwrap().as_deref(),
        Some("nobody")
    );

    // The colleague does not see it.
    let c = signed_in(&app.url("/"), COLLEAGUE).await;
    assert!(c.client.find(Locator::Css("a.view-link")).await.is_err());
    c.close().await;

    // Deleted, it is gone.
    b.click_through("button.delete-view").await;
    assert!(b.client.find(Locator::Css("a.view-link")).await.is_err());
    b.close().await;
}

#[tokio::test]
async fn select_all_then_bulk_assign_set_status_and_decline_emails_every_donor() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start().await;
    add_colleague(&app).await;
    let donors: Vec<String> = (0..3)
        .map(|n| common::unique_address(&format!("bulk{n}")))
        .collect();
    let mut ids = Vec::new();
    for (n, donor) in donors.iter().enumerate() {
        let raw = format!(
            "From: Donor {n} <{donor}>\nSubject: masks {n}\nMessage-ID: <bulk-{n}-{donor}>\n\nWe have {n}0 masks.\n"
        );
        let made = offer(
            donor,
            &format!("Donor {n}"),
            &format!("masks {n}"),
            "90501",
            vec![],
        );
        ids.push(app.seed(raw.as_bytes(), made).await);
    }
    let b = signed_in(&app.url("/"), ME).await;

    // Select all, assign to the colleague.
    b.click("select-all").await;
    let checked = b
        .run("return Array.from(document.querySelectorAll('input[name=ids]')).filter(c => c.checked).length;")
        .await;
    assert_eq!(checked, 3);
    choose(&b, "#bulk-assign-to", COLLEAGUE).await;
    b.click_through("#bulk-assign").await;
    // One confirmation for the batch (without Undo: this site's undo time is 0).
    assert!(b.text().await.contains("3 offers assigned."));
    for &id in &ids {
        assert_eq!(
            app.store.assignee(id).await.unwrap().as_deref(),
            Some(COLLEAGUE)
        );
    }

    // Select all, waiting for the donors.
    b.click("select-all").await;
    choose(&b, "#bulk-status", "needs_info").await;
    b.click_through("#bulk-set-status").await;
    assert!(b.text().await.contains("3 offers set to needs_info."));
    let statuses = b
        .run("return Array.from(document.querySelectorAll('tr.offer-row .status')).map(s => s.textContent);")
        .await;
    assert_eq!(
        statuses,
        serde_json::json!(["needs_info", "needs_info", "needs_info"])
    );
    let history = app.store.offer_history(ids[0]).await.unwrap();
    assert!(history
        .iter()
        .any(|h| h.action == "status_set" && h.detail == "new → needs_info"));

    // Select all, decline: each donor is told.
    b.click("select-all").await;
    type_into(&b, "form#bulk input[name=reason]", "No masks needed now").await;
    b.click_through("button[name=action][value=decline]").await;
    // A decision: one confirmation for the batch (without Undo here: this
    // site's undo time is 0).
    assert!(b.text().await.contains("3 offers declined."));
    b.close().await;
    for (donor, id) in donors.iter().zip(&ids) {
        let mail = app.send_all_to_mailbox(donor, 1).await;
        assert_eq!(mail.len(), 1, "{donor} got one email");
        assert!(mail[0].contains("No masks needed now"), "{}", mail[0]);
        assert_eq!(app.store.offer(*id).await.unwrap().offer.status, "declined");
    }
}

#[tokio::test]
async fn assigning_is_for_staff_who_can_change_offers_to_staff_who_can() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    let (viewer, viewer_csrf) = login_http(&app, "viewer@city.example").await;
    let form = format!("csrf={viewer_csrf}&to={ME}");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/assign"), &viewer, &form),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (cookie, csrf) = login_http(&app, ME).await;
    let form = format!("csrf={csrf}&to=viewer%40city.example");
    let (status, _, page) = call(
        &app,
        post(&format!("/offers/{dentist}/assign"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("not a staff account"), "{page}");
    let form = format!("csrf={csrf}&ids={dentist}&action=status&status=declined");
    let (status, _, page) = call(&app, post("/bulk", &cookie, &form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(app.store.assignee(dentist).await.unwrap(), None);
    let (status, _, page) = call(&app, crate::http::get("/?sort=age", &cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("received"), "the choices are named: {page}");
    // Every sort reads the open queue through its index (INDEXED BY) or the planner's.
    for sort in [
        "donor",
        "-donor",
        "assignee",
        "-received",
        "status",
        "ref",
        "-priority",
    ] {
        for (owner, language) in [
            ("", ""),
            ("nobody", ""),
            ("me", ""),
            ("", "en"),
            ("me", "en"),
        ] {
            let path =
                format!("/?sort={sort}&owner={owner}&language={language}&item=n95_respirator");
            let (status, _, page) = call(&app, crate::http::get(&path, &cookie)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
        }
    }

    // Taken, it is the only one the export of "mine" has, with its assignee.
    let form = format!("csrf={csrf}&to={ME}");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/assign"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, csv) = call(
        &app,
        crate::http::get("/export/offers.csv?owner=me", &cookie),
    )
    .await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let head = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    let at = head.iter().position(|h| h == "assigned_to").unwrap();
    assert_eq!(&rows[0][at], ME);
}

#[tokio::test]
async fn presence_names_the_others_and_without_a_session_answers_401_not_the_login_page() {
    let app = TestApp::start().await;
    add_colleague(&app).await;
    let (dentist, _) = seed_two(&app).await;
    let (mine, my_csrf) = login_http(&app, ME).await;
    let (theirs, their_csrf) = login_http(&app, COLLEAGUE).await;
    let path = format!("/offers/{dentist}/presence");
    let (status, _, body) = call(&app, post(&path, &mine, &format!("csrf={my_csrf}&page=1"))).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"others":[]}"#)
    );
    let (_, _, body) = call(
        &app,
        post(&path, &theirs, &format!("csrf={their_csrf}&page=2")),
    )
    .await;
    assert_eq!(body, format!(r#"{{"others":["{ME}"]}}"#));
    // Leaving from an older page load of mine does not hide me; leaving this one does.
    call(
        &app,
        post(&path, &mine, &format!("csrf={my_csrf}&page=0&leave=1")),
    )
    .await;
    let (_, _, body) = call(
        &app,
        post(&path, &theirs, &format!("csrf={their_csrf}&page=2")),
    )
    .await;
    assert_eq!(body, format!(r#"{{"others":["{ME}"]}}"#));
    call(
        &app,
        post(&path, &mine, &format!("csrf={my_csrf}&page=1&leave=1")),
    )
    .await;
    let (_, _, body) = call(
        &app,
        post(&path, &theirs, &format!("csrf={their_csrf}&page=2")),
    )
    .await;
    assert_eq!(body, r#"{"others":[]}"#);
    let (status, location, _) = call(&app, post(&path, "", "csrf=x&leave=1")).await;
    assert_eq!((status, location.as_str()), (StatusCode::UNAUTHORIZED, ""));
    let (status, _, _) = call(&app, post(&path, &mine, "csrf=forged")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The open queue of one language (read through its own index, migration
/// 0027) lists that language's open offers alone, highest priority first,
/// with the item filter besides, and counts what it lists.
#[tokio::test]
async fn the_open_queue_of_one_language_lists_and_counts_its_open_offers_alone() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let seed_es = |n: usize, quantity: f64| {
        let mut made = offer(
            &format!("donante{n}@ejemplo.example"),
            &format!("Donante {n}"),
            &format!("Donación {n}: mascarillas N95"),
            "90001",
            vec![item("n95_respirator", quantity, "each", &[])],
        );
        made.language = Some("es".into());
        let raw = format!(
            "From: donante{n}@ejemplo.example\nSubject: Donación {n}\nMessage-ID: <es-{n}@ejemplo.example>\n\n{quantity} mascarillas N95\n"
        );
        (raw, made)
    };
    let (raw, made) = seed_es(1, 10.0);
    let small = app.seed(raw.as_bytes(), made).await;
    let (raw, made) = seed_es(2, 5000.0);
    let large = app.seed(raw.as_bytes(), made).await;
    let (raw, made) = seed_es(3, 300.0);
    let closed = app.seed(raw.as_bytes(), made).await;
    let (cookie, csrf) = login_http(&app, ME).await;
    let form = format!("csrf={csrf}&ids={closed}&action=spam");
    let (status, _, page) = call(&app, post("/bulk", &cookie, &form)).await;
    assert!(status.is_redirection(), "{status}: {page}");

    let (status, _, page) = call(
        &app,
        crate::http::get("/?language=es&item=n95_respirator", &cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("2 offers"),
        "counts the two open ones: {page}"
    );
    let listed = |id: i64| page.find(&format!("data-href=\"/offers/{id}\""));
    let (small_at, large_at) = (listed(small), listed(large));
    assert!(
        large_at.is_some() && small_at.is_some() && large_at < small_at,
        "both open Spanish offers, the larger (higher priority) first: {page}"
    );
    for other in [closed, dentist, gloves] {
        assert!(
            listed(other).is_none(),
            "offer {other} is not listed: {page}"
        );
    }
}
