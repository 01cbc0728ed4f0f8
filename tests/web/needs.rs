//! Needs staff can edit and items from the catalog (#15, parts 4 and 5):
//! admins edit the needs list on /needs, a misspelled item is refused
//! beside its field, priority follows at once (no restart) and every
//! change is in the history; the offer page says why an offer ranks where
//! it does, and staff pick items from the catalog, never free text.

use axum::http::StatusCode;
use fantoccini::Locator;
use supplyline::state::Role;

use crate::app::{seed_two, TestApp, PASSWORD};
use crate::browser::Browser;
use crate::http::{call, get, login_http, post};
use crate::pages::{LoginPage, OfferPage};

const ADMIN: &str = "admin@city.example";

async fn with_admin(app: &TestApp) {
    let hash = supplyline::web::auth::hash_password(PASSWORD).unwrap();
    app.store
        .upsert_user(ADMIN, &hash, Role::Admin)
        .await
        .unwrap();
}

async fn priority(app: &TestApp, id: i64) -> f64 {
    let filter = supplyline::store::QueueFilter {
        status: supplyline::store::StatusFilter::All,
        ..Default::default()
    };
    let (rows, _) = app.store.queue(&filter, 0, 50).await.unwrap();
    rows.iter().find(|r| r.id == id).unwrap().priority
}

#[tokio::test]
async fn an_admin_changes_a_need_and_priority_follows_without_a_restart() {
    let app = TestApp::start().await;
    with_admin(&app).await;
    let (dentist, gloves) = seed_two(&app).await;
    // examples/needs.toml: n95 weight 10, gowns 6, gloves 0.5 (300 pieces).
    assert_eq!(priority(&app, dentist).await, 2000.0 * 10.0 + 40.0 * 6.0);
    assert_eq!(priority(&app, gloves).await, 150.0);
    let (cookie, csrf) = login_http(&app, ADMIN).await;
    let form = format!("csrf={csrf}&item=exam_gloves&per_week=700&on_hand=100&target=100000");
    let (status, _, page) = call(&app, post("/needs", &cookie, &form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    // 1 day left: 28 / 1 per week covered; 300 gloves cover 3/7 of a week.
    let expected = 300.0 / 700.0 * 28.0;
    assert!((priority(&app, gloves).await - expected).abs() < 1e-6);
    let (_, _, page) = call(&app, get("/needs", &cookie)).await;
    assert!(page.contains("id=\"need-exam_gloves\""), "{page}");
    assert!(page.contains("need_changed"), "{page}");
    assert!(
        page.contains(
            "exam_gloves: weight 0.5, target 100000 → 700&#x2f;week, 100 on hand, target 100000"
        ),
        "the history says what it was and what it is: {page}"
    );
    let (_, _, page) = call(&app, get(&format!("/offers/{gloves}"), &cookie)).await;
    assert!(
        page.contains("needed: 1 day of exam gloves supply left; offer covers 3 days"),
        "{page}"
    );
    assert!(
        page.contains("= 300 pieces") && page.contains("pack size assumed"),
        "{page}"
    );
    // The dashboard counts pieces and shows what was stated beside them.
    let (_, _, page) = call(&app, get("/dashboard", &cookie)).await;
    let row = page
        .split("<tr class=\"stat-exam_gloves\">")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_else(|| panic!("no gloves row: {page}"));
    assert!(row.contains("<td class=\"num pledged\">300</td>"), "{row}");
    assert!(
        row.contains("3 box <span class=\"assumed\">(1 with a pack size assumed)"),
        "{row}"
    );
}

#[tokio::test]
async fn a_misspelled_item_is_refused_beside_the_field_and_triagers_cannot_edit() {
    let app = TestApp::start().await;
    with_admin(&app).await;
    let (cookie, csrf) = login_http(&app, ADMIN).await;
    let form = format!("csrf={csrf}&item=n59_respirator&per_week=700&on_hand=1200");
    let (status, _, page) = call(&app, post("/needs", &cookie, &form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("id=\"need-item-error\">&quot;n59_respirator&quot; is not in the catalog"),
        "{page}"
    );
    assert!(
        page.contains("value=\"n59_respirator\""),
        "what was typed stays: {page}"
    );
    let needs = app.store.needs().await.unwrap();
    assert!(needs.iter().all(|n| n.need.item != "n59_respirator"));
    assert!(app.store.needs_history(5).await.unwrap().is_empty());

    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let form = format!("csrf={csrf}&item=n95_respirator&per_week=700&on_hand=1200");
    let (status, _, _) = call(&app, post("/needs", &cookie, &form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = call(&app, get("/needs", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("id=\"need-add\""),
        "no edit form for a triager"
    );
}

#[tokio::test]
async fn offer_items_come_from_the_catalog() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let form = format!("csrf={csrf}&item=glovez&quantity=5&unit=box");
    let (status, _, page) = call(
        &app,
        post(&format!("/offers/{dentist}/items"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(
            "id=\"item-new-error\" role=\"alert\">&quot;glovez&quot; is not in the catalog"
        ),
        "{page}"
    );
    assert_eq!(app.store.items_full(dentist).await.unwrap().len(), 2);
    // The English name picks the item too.
    let form = format!("csrf={csrf}&item=exam+gloves&quantity=5&unit=box");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/items"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let items = app.store.items_full(dentist).await.unwrap();
    assert_eq!(items[2].item, "exam_gloves");
    assert_eq!(items[2].base_quantity, Some(500.0));
    // The items CSV has the base quantity beside the stated one.
    let (_, _, csv) = call(&app, get("/export/items.csv?status=all", &cookie)).await;
    assert!(
        csv.contains(
            r#""SL-000001","exam_gloves","5","box","","","","staff","500","piece","yes","yes""#
        ),
        "{csv}"
    );
    // A changed line is checked the same way.
    let form = format!("csrf={csrf}&item=n95+respiratorz&quantity=2000&unit=each");
    let path = format!("/offers/{dentist}/items/{}", items[0].id);
    let (status, _, page) = call(&app, post(&path, &cookie, &form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(&format!("id=\"item-{}-error\"", items[0].id)),
        "{page}"
    );
    let (_, _, page) = call(&app, get(&format!("/offers/{dentist}"), &cookie)).await;
    assert!(page.contains("<datalist id=\"catalog-items\">"), "{page}");
    assert!(page.contains("<option value=\"isolation_gown\">"), "{page}");
}

/// The text of the element `css` selects, once it is there.
async fn text_of(b: &Browser, css: &str) -> String {
    b.wait_for(css).await.text().await.unwrap()
}

#[tokio::test]
async fn in_chromium_an_admin_edits_needs_and_the_offer_page_explains_priority() {
    let app = TestApp::start().await;
    with_admin(&app).await;
    let (dentist, _) = seed_two(&app).await;
    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/needs"))
        .await
        .sign_in(ADMIN)
        .await;
    b.wait_for("#need-add").await;
    b.type_into("need-item", "n59_respirator").await;
    b.type_into("need-per-week", "7000").await;
    b.type_into("need-on-hand", "12000").await;
    let old = b.wait_for("#need-save").await;
    old.click().await.unwrap();
    b.wait_for_next_page(&old).await;
    let error = text_of(&b, "#need-item-error").await;
    assert!(error.contains("not in the catalog"), "{error}");
    let field = b.client.find(Locator::Id("need-item")).await.unwrap();
    assert_eq!(
        field.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    field.clear().await.unwrap();
    field.send_keys("n95_respirator").await.unwrap();
    let old = b.wait_for("#need-save").await;
    old.click().await.unwrap();
    b.wait_for_next_page(&old).await;
    let row = text_of(&b, "#need-n95_respirator .days").await;
    assert_eq!(row, "12 days");
    let history = text_of(&b, ".needs-history").await;
    assert!(
        history.contains(ADMIN) && history.contains("need_changed"),
        "{history}"
    );
    b.screenshot("needs-edited.png").await;
    OfferPage::open(&b, &app.url(&format!("/offers/{dentist}"))).await;
    let reasons = text_of(&b, ".priority-reasons").await;
    assert!(
        reasons.contains("needed: 12 days of N95 respirators supply left; offer covers 2 days"),
        "{reasons}"
    );
    b.close().await;
}

#[tokio::test]
async fn in_chromium_staff_pick_an_item_from_the_catalog() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    let b = Browser::start().await;
    LoginPage::open(&b, &app.url(&format!("/offers/{dentist}")))
        .await
        .sign_in("triager@city.example")
        .await;
    let input = b.wait_for("#new-item").await;
    assert_eq!(
        input.attr("list").await.unwrap().as_deref(),
        Some("catalog-items")
    );
    let options = b
        .run("return document.querySelectorAll('#catalog-items option').length;")
        .await;
    assert!(options.as_i64().unwrap() >= 25, "{options}");
    input.send_keys("face_shield").await.unwrap();
    let qty = b
        .client
        .find(Locator::Css("input[aria-label='new quantity']"))
        .await
        .unwrap();
    qty.send_keys("2").await.unwrap();
    let unit = b
        .client
        .find(Locator::Css("input[aria-label='new unit']"))
        .await
        .unwrap();
    unit.send_keys("box").await.unwrap();
    input
        .find(Locator::XPath("ancestor::form[1]//button[text()='Add']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for_next_page(&input).await;
    let base = text_of(&b, "#base-3").await;
    assert_eq!(base, "= 48 pieces (pack size assumed)");
    let items = app.store.items_full(dentist).await.unwrap();
    assert_eq!(items[2].item, "face_shield");
    b.close().await;
}
