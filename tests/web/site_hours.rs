//! A site's stored opening hours that cannot be read (#16), as staff meet
//! them in Chromium: the offer page says which site has invalid hours and
//! what is stored, instead of silently showing no grid for it, and
//! accepting into that site is refused beside the form (nothing booked,
//! no email queued), while the site's hours are fixed by loading the needs
//! file again.

use fantoccini::Locator;

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::pages::LoginPage;

const DEPOT: &str = "Central depot";
const BAD: &str = r#"{"days":"nine to five"}"#;

/// Stores `json` as the depot's hours, as a damaged database would have them.
async fn store_depot_hours(app: &TestApp, json: &str) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    sqlx::query("UPDATE site_slots SET hours_json = ? WHERE site = ?")
        .bind(json)
        .bind(DEPOT)
        .execute(&mut db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_site_with_unreadable_hours_is_named_on_the_offer_and_takes_no_booking() {
    let app = TestApp::start().await;
    let raw = "From: Lee <lee@hours.example>\nSubject: masks\nMessage-ID: <hours@hours.example>\n\n500 masks\n";
    let made = offer(
        "lee@hours.example",
        "Lee",
        "masks",
        "90501",
        vec![item("n95_respirator", 500.0, "each", &[])],
    );
    let id = app.seed(raw.as_bytes(), made).await;
    store_depot_hours(&app, BAD).await;

    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    b.goto(&app.url(&format!("/offers/{id}"))).await;
    let said = b
        .wait_for(&format!(".invalid-hours[data-site='{DEPOT}']"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        said.contains("Central depot has invalid opening hours"),
        "{said}"
    );
    assert!(said.contains("nine to five"), "{said}");
    let grid = format!("table.slots[data-site='{DEPOT}']");
    assert!(b.client.find(Locator::Css(&grid)).await.is_err());

    // Accepting into it anyway is refused beside the form.
    b.wait_for("#site")
        .await
        .select_by_value(DEPOT)
        .await
        .unwrap();
    b.run("document.getElementById('date').value = '2030-01-15';")
        .await;
    let button = b.wait_for("#preview").await;
    button.click().await.unwrap();
    b.wait_for_next_page(&button).await;
    let error = b.wait_for("#accept-error").await.text().await.unwrap();
    assert!(
        error.contains("Central depot") && error.contains("invalid"),
        "{error}"
    );
    assert!(app.store.booking(id).await.unwrap().is_none());
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "new");

    // Loaded again from the needs file, the depot has its grid back.
    let needs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/needs.toml");
    supplyline::web::operations::load_file(&app.store, &needs, &app.state.catalog)
        .await
        .unwrap();
    b.goto(&app.url(&format!("/offers/{id}"))).await;
    b.wait_for(&grid).await;
    assert!(b.client.find(Locator::Css(".invalid-hours")).await.is_err());
    b.close().await;
}
