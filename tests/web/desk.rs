//! The desk at work (#16): search by surname, item, reference, phone,
//! phrase, prefix and OR, ranked, with the index following staff's edits;
//! the CSV export's fields, dates, byte order mark and empty quantities;
//! the stored priority and dashboard totals following edits and decisions;
//! and the queue and an offer page at phone width in Chromium.

use axum::http::StatusCode;
use supplyline::decide::{self, Desk, Pickup};
use supplyline::values::OfferRef;

use crate::app::{offer, seed_two, TestApp};
use crate::browser::Browser;
use crate::http::{call, get, login_http, post};
use crate::pages::{LoginPage, OfferPage};

/// The offer ids a queue page lists, in its order.
fn listed(page: &str) -> Vec<i64> {
    page.split("<tr data-href=\"/offers/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

async fn search(app: &TestApp, cookie: &str, q: &str) -> Vec<i64> {
    let q: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, _, page) = call(app, get(&format!("/?status=all&q={q}"), cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    listed(&page)
}

/// A third offer whose message only mentions the dentist's name.
async fn seed_mention(app: &TestApp) -> i64 {
    app.seed(
        b"From: Carla <carla@clinic.example>\nSubject: face shields\nMessage-ID: <c@clinic.example>\n\nDr. Ruiz told us you need face shields; we have 30.\n",
        offer("carla@clinic.example", "Carla Mendes", "face shields", "90710", vec![]),
    )
    .await
}

#[tokio::test]
async fn search_finds_offers_by_name_item_reference_phone_phrase_prefix_and_or() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let mention = seed_mention(&app).await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let cases: &[(&str, &[i64])] = &[
        // The donor's surname ranks above a message that mentions it.
        ("Ruiz", &[dentist, mention]),
        ("ruíz", &[dentist, mention]),
        ("isolation_gown", &[dentist]),
        ("gloves", &[gloves]),
        ("SL-000002", &[gloves]),
        ("sl-1", &[dentist]),
        ("310-555-0100", &[dentist]),
        ("(310) 555 0100", &[dentist]),
        ("+13105550100", &[dentist]),
        ("\"isolation gowns\"", &[dentist]),
        ("\"gowns isolation\"", &[]),
        ("dent*", &[dentist]),
        ("shiel*", &[mention]),
        ("Bo OR Carla", &[gloves, mention]),
        ("Ruiz gloves", &[]),
        ("torrance", &[dentist]),
        ("Subject", &[]),
    ];
    for (q, want) in cases {
        let mut got = search(&app, &cookie, q).await;
        if q.contains(" OR ") {
            got.sort();
        }
        assert_eq!(&got, want, "search {q:?}");
    }
    // Nothing staff type is read as FTS5 syntax.
    for q in ["\"", "NEAR(", "a AND", "*", "-", "col:umn", "OR"] {
        search(&app, &cookie, q).await;
    }
}

#[tokio::test]
async fn the_index_follows_notes_and_item_edits_in_the_same_write() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    assert_eq!(search(&app, &cookie, "wheelchair").await, Vec::<i64>::new());
    let (status, _, _) = call(
        &app,
        post(
            &format!("/offers/{gloves}/notes"),
            &cookie,
            &format!("csrf={csrf}&body=Also+has+a+wheelchair+to+give"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(search(&app, &cookie, "wheelchair").await, vec![gloves]);
    let items = app.store.items_full(dentist).await.unwrap();
    let (status, _, _) = call(
        &app,
        post(
            &format!("/offers/{dentist}/items/{}", items[1].id),
            &cookie,
            &format!("csrf={csrf}&item=face_shield&quantity=40&unit=each"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(search(&app, &cookie, "face_shield").await, vec![dentist]);
    assert_eq!(
        search(&app, &cookie, "isolation_gown").await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn csv_export_has_every_field_iso_dates_an_optional_bom_and_empty_unknown_quantities() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let desk = Desk {
        store: &app.store,
        composer: &app.state.composer,
        actor: "triager@city.example",
    };
    let pickup = Pickup {
        site: "Central depot".into(),
        window: "2030-01-15 09:00–12:00".into(),
        notes: None,
    };
    decide::accept(desk, OfferRef::from(dentist), &pickup)
        .await
        .unwrap();
    decide::decline(desk, OfferRef::from(gloves), "we have enough gloves", false)
        .await
        .unwrap();
    for (path, form) in [
        (format!("/offers/{dentist}/notes"), "body=Call+before+noon"),
        (
            format!("/offers/{dentist}/items"),
            "item=face_shield&quantity=&unit=",
        ),
    ] {
        let (status, _, _) = call(&app, post(&path, &cookie, &format!("csrf={csrf}&{form}"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
    }

    let (status, _, csv) = call(&app, get("/export/offers.csv?status=all&bom=1", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv
        .strip_prefix('\u{feff}')
        .unwrap_or_else(|| panic!("no BOM: {csv}"));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let head: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for field in [
        "phone",
        "site",
        "window",
        "decline_reason",
        "notes",
        "created_at",
    ] {
        assert!(head.iter().any(|h| h == field), "{field} in {head:?}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let col = |row: &csv::StringRecord, name: &str| {
        row[head.iter().position(|h| h == name).unwrap()].to_string()
    };
    let d = rows
        .iter()
        .find(|r| col(r, "reference") == "SL-000001")
        .unwrap();
    let g = rows
        .iter()
        .find(|r| col(r, "reference") == "SL-000002")
        .unwrap();
    assert_eq!(
        col(d, "phone"),
        "'+1 310 555 0100",
        "a leading + is defused"
    );
    assert_eq!(col(d, "site"), "Central depot");
    assert_eq!(col(d, "window"), pickup.window);
    assert_eq!(col(d, "notes"), "Call before noon");
    assert_eq!(
        col(d, "items"),
        "n95_respirator × 2000, isolation_gown × 40, face_shield"
    );
    assert_eq!(col(g, "decline_reason"), "we have enough gloves");
    let iso = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").unwrap();
    for row in &rows {
        for field in ["created_at", "updated_at"] {
            assert!(iso.is_match(&col(row, field)), "{field}: {row:?}");
        }
    }

    let (_, _, plain) = call(&app, get("/export/items.csv?status=all", &cookie)).await;
    assert!(plain.starts_with("\"reference\""), "no BOM unless asked");
    assert!(
        plain.contains(r#""SL-000001","face_shield","","","","","","staff""#),
        "{plain}"
    );
    let (_, _, queue) = call(&app, get("/?status=all", &cookie)).await;
    assert!(
        queue.contains("isolation_gown × 40, face_shield<"),
        "{queue}"
    );
}

/// The page is no wider than a `width` px screen: nothing scrolls
/// sideways and the browser did not zoom out to fit it.
async fn fits(b: &Browser, width: i64, what: &str) {
    let sizes = b
        .run("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    let (scroll, inner) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
    let wide = b
        .run(&format!(
            "return Array.from(document.querySelectorAll('body *'))
               .filter(e => e.getBoundingClientRect().right > {width} + 1)
               .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));"
        ))
        .await;
    assert!(
        scroll <= width && inner <= width,
        "{what}: {scroll} px wide, window {inner} px, on a {width} px screen; too wide: {wide}"
    );
}

#[tokio::test]
async fn the_queue_and_an_offer_fit_a_phone_screen() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    // A message with a long unbroken line, as pasted links and part numbers are.
    let long = format!("Order ref {}\n", "X".repeat(300));
    let raw = format!(
        "From: Dee <dee@lab.example>\nSubject: {}\nMessage-ID: <long@lab.example>\n\n{long}We have 10 masks.\n",
        "masks-".repeat(30)
    );
    app.seed(
        raw.as_bytes(),
        offer(
            "dee@lab.example",
            "Dee",
            &"masks-".repeat(30),
            "90001",
            vec![],
        ),
    )
    .await;
    let b = Browser::start_with_size(390, 844).await;
    LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    assert_eq!(
        b.run("return screen.width;").await.as_i64(),
        Some(390),
        "a phone-width screen"
    );
    fits(&b, 390, "the queue").await;
    b.screenshot("desk-phone-queue.png").await;
    for id in [dentist, 3] {
        OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
        fits(&b, 390, &format!("offer {id}")).await;
    }
    b.screenshot("desk-phone-offer.png").await;
    b.close().await;
}

/// The stored priority and the dashboard's running totals, after staff
/// change items and decide, equal what summing every line gives.
#[tokio::test]
async fn stored_priorities_and_totals_follow_item_edits_and_decisions() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let items = app.store.items_full(dentist).await.unwrap();
    let edit = supplyline::store::ItemEdit {
        item: "isolation_gown".into(),
        quantity: Some(50.0),
        unit: None,
    };
    let actor = "triager@city.example";
    app.store
        .update_item(dentist, items[1].id, actor, &edit)
        .await
        .unwrap();
    let desk = Desk {
        store: &app.store,
        composer: &app.state.composer,
        actor,
    };
    decide::decline(desk, OfferRef::from(gloves), "enough", false)
        .await
        .unwrap();
    let filter = supplyline::store::QueueFilter {
        status: supplyline::store::StatusFilter::All,
        ..Default::default()
    };
    let (rows, _) = app.store.queue(&filter, 0, 10).await.unwrap();
    let priority = |id| rows.iter().find(|r| r.id == id).unwrap().priority;
    // examples/needs.toml: n95 weight 10, gowns 6, gloves 0.5.
    assert_eq!(priority(dentist), 2000.0 * 10.0 + 50.0 * 6.0);
    // 3 boxes of gloves are 300 pieces (the catalog's 100 a box, #15).
    assert_eq!(priority(gloves), 150.0);
    let stats = app.store.item_stats().await.unwrap();
    let pledged = |item: &str| stats.iter().find(|s| s.item == item).unwrap().pledged;
    assert_eq!(pledged("n95_respirator"), 2000.0);
    assert_eq!(pledged("isolation_gown"), 50.0);
    assert_eq!(
        pledged("exam_gloves"),
        0.0,
        "a declined offer pledges nothing"
    );
    app.store
        .remove_item(dentist, items[0].id, actor)
        .await
        .unwrap();
    let (rows, _) = app.store.queue(&filter, 0, 10).await.unwrap();
    assert_eq!(
        rows.iter().find(|r| r.id == dentist).unwrap().priority,
        300.0
    );
    let stats = app.store.item_stats().await.unwrap();
    let n95 = stats.iter().find(|s| s.item == "n95_respirator").unwrap();
    assert_eq!((n95.pledged, n95.target), (0.0, Some(50000.0)));
}
