//! Whose Undo it is (#16), in Chromium as two colleagues use the desk: the
//! confirmation with Undo of a decision, or of a bulk action, shows only to
//! the staff member who made it and only while it can be undone. The same
//! address opened by a colleague, or by its maker once the time is over,
//! shows no confirmation at all, and the undo itself, posted anyway, is
//! refused and changes nothing.

use axum::http::StatusCode;
use fantoccini::Locator;
use supplyline::config::WebConfig;
use supplyline::state::Role;

use crate::app::{item, offer, TestApp, PASSWORD};
use crate::browser::Browser;
use crate::http::{login_http, press_for};
use crate::pages::signed_in;

const ME: &str = "triager@city.example";
const COLLEAGUE: &str = "colleague@city.example";

async fn seed(app: &TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for k in 0..n {
        let donor = format!("d{k}@scope.example");
        let raw = format!(
            "From: Donor <{donor}>\nSubject: gowns {k}\nMessage-ID: <scope-{k}@scope.example>\n\n{k}0 gowns\n"
        );
        let items = vec![item("isolation_gown", 10.0, "each", &[])];
        let made = offer(&donor, "Donor", &format!("gowns {k}"), "90501", items);
        ids.push(app.seed(raw.as_bytes(), made).await);
    }
    ids
}

/// Opens `url` (the queue or an offer) and says whether it shows a
/// confirmation, and whether that has an Undo.
async fn shows_undo(b: &Browser, url: &str) -> (bool, bool) {
    b.goto(url).await;
    b.wait_for("main").await;
    let banner = b.client.find(Locator::Id("undo-banner")).await.is_ok();
    let button = b
        .client
        .find(Locator::Css("#undo, #undo-batch"))
        .await
        .is_ok();
    (banner, button)
}

async fn status(app: &TestApp, id: i64) -> String {
    app.store.offer(id).await.unwrap().offer.status.to_string()
}

/// Sets every undo window's end in the past, as if its time had passed.
async fn time_passes(app: &TestApp) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    sqlx::query("UPDATE decision_undos SET undo_until = ?")
        .bind(supplyline::store::now_ms() - 1)
        .execute(&mut db)
        .await
        .unwrap();
}

#[tokio::test]
async fn only_its_maker_sees_an_undo_and_only_while_it_lasts() {
    let app = TestApp::start_with(WebConfig {
        undo_secs: 600,
        ..WebConfig::default()
    })
    .await;
    let hash = supplyline::web::auth::hash_password(PASSWORD).unwrap();
    app.store
        .upsert_user(COLLEAGUE, &hash, Role::Triager)
        .await
        .unwrap();
    let ids = seed(&app, 4).await;
    let me = signed_in(&app.url("/"), ME).await;
    let colleague = signed_in(&app.url("/"), COLLEAGUE).await;

    // I mark the first offer as spam: the next offer shows my Undo.
    me.goto(&app.url(&format!("/offers/{}", ids[0]))).await;
    me.run("document.getElementById('spam-or-merge').open = true;")
        .await;
    me.click_through("#spam-button").await;
    let mine = me.url().await;
    assert!(mine.contains("undo="), "{mine}");
    assert_eq!(shows_undo(&me, &mine).await, (true, true));
    // My bulk decline of two others: the queue shows my Undo for the batch.
    me.goto(&app.url("/")).await;
    for id in &ids[2..] {
        let tick = format!("input[name=ids][value='{id}']");
        me.wait_for(&tick).await.click().await.unwrap();
    }
    me.wait_for("form#bulk input[name=reason]")
        .await
        .send_keys("No gowns needed")
        .await
        .unwrap();
    me.click_through("button[name=action][value=decline]").await;
    let my_batch = me.url().await;
    assert!(my_batch.contains("undo_batch="), "{my_batch}");
    assert_eq!(shows_undo(&me, &my_batch).await, (true, true));

    // The same addresses in my colleague's browser: no confirmation.
    assert_eq!(shows_undo(&colleague, &mine).await, (false, false));
    assert_eq!(shows_undo(&colleague, &my_batch).await, (false, false));
    colleague.close().await;
    // Posted anyway, my colleague's undo is refused and changes nothing.
    let (cookie, csrf) = login_http(&app, COLLEAGUE).await;
    let window = number_after(&mine, "undo=");
    let (code, _, page) = press_for(&app, &format!("/undo/{window}"), &cookie, &csrf).await;
    assert_eq!(code, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("only they can undo it"), "{page}");
    let batch = number_after(&my_batch, "undo_batch=");
    let (code, location, _) =
        press_for(&app, &format!("/undo-batch/{batch}"), &cookie, &csrf).await;
    assert!(code.is_redirection(), "{code}");
    assert!(location.contains("undo_refused=not_yours"), "{location}");
    assert_eq!(status(&app, ids[0]).await, "spam");
    for &id in &ids[2..] {
        assert_eq!(status(&app, id).await, "declined");
    }

    // Once the time is over, my own addresses show nothing either, and my
    // undo is refused.
    time_passes(&app).await;
    assert_eq!(shows_undo(&me, &mine).await, (false, false));
    assert_eq!(shows_undo(&me, &my_batch).await, (false, false));
    me.close().await;
    let (cookie, csrf) = login_http(&app, ME).await;
    let (code, _, page) = press_for(&app, &format!("/undo/{window}"), &cookie, &csrf).await;
    assert_eq!(code, StatusCode::CONFLICT, "{page}");
    assert!(
        page.contains("time to undo this decision is over"),
        "{page}"
    );
    let (_, location, _) = press_for(&app, &format!("/undo-batch/{batch}"), &cookie, &csrf).await;
    assert!(location.contains("undo_refused=expired"), "{location}");
    assert_eq!(status(&app, ids[0]).await, "spam");
    for &id in &ids[2..] {
        assert_eq!(status(&app, id).await, "declined");
    }
}

/// The number after `key` in `url`.
fn number_after(url: &str, key: &str) -> i64 {
    url.split(key)
        .nth(1)
        .and_then(|rest| rest.split('&').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}
