//! Slots and pickups (#16) as staff use them in Chromium: the slot grid
//! with the first free slot preselected, a full slot refused and then
//! overbooked on purpose, a past date refused, a pickup at the donor's
//! edited address; a donor's reply asking for another time reopens the
//! offer, the new invitation and the cancellation update the same
//! calendar event in the donor's real Dovecot mailbox (same UID, higher
//! SEQUENCE, METHOD:CANCEL); and a shortfall on receipt is flagged on the
//! offer and the dashboard. A site in another time zone than the server's
//! gets its slots at its own opening hours, by its own clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday};
use fantoccini::Locator;
use mail_parser::{MessageParser, MimeHeaders};
use supplyline::decide::Desk;
use supplyline::outbox::{Composer, ReplyPolicy};
use supplyline::process::Processor;
use supplyline::rules::Rules;
use supplyline::slots::{self, SlotChoice, Zone};
use supplyline::store::{BookingMode, BookingState};
use supplyline::values::OfferRef;

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::common;
use crate::pages::{LoginPage, OfferPage};

const DEPOT: &str = "Central depot";

/// An offer from a fresh donor address with an extracted pickup address.
async fn seed_offer(app: &TestApp, donor: &str) -> i64 {
    let raw = format!(
        "From: Lee Park <{donor}>\r\nTo: donations@city.example\r\nSubject: 500 masks\r\n\
         Message-ID: <offer-{donor}>\r\n\r\nWe have 500 N95 masks. Pick up at 22 Ocean Ave, Torrance CA.\r\n"
    );
    let mut made = offer(
        donor,
        "Lee Park",
        "500 masks",
        "90501",
        vec![item("n95_respirator", 500.0, "each", &[])],
    );
    made.pickup_json =
        Some(r#"{"address":"22 Ocean Ave, Torrance CA","postal_code":"90501"}"#.into());
    app.seed(raw.as_bytes(), made).await
}

async fn login(app: &TestApp) -> Browser {
    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    b
}

async fn value(b: &Browser, id: &str) -> String {
    let v = b
        .run(&format!("return document.getElementById('{id}').value;"))
        .await;
    v.as_str().unwrap_or_default().to_string()
}

/// The depot's slot buttons as (date, from, class), in the grid's order.
async fn depot_slots(b: &Browser) -> Vec<(String, String, String)> {
    let css = format!("#slot-grid table[data-site='{DEPOT}'] button.slot");
    let mut out = Vec::new();
    for button in b.client.find_all(Locator::Css(&css)).await.unwrap() {
        let attr = |name: &'static str| {
            let button = button.clone();
            async move { button.attr(name).await.unwrap().unwrap_or_default() }
        };
        out.push((
            attr("data-date").await,
            attr("data-from").await,
            attr("class").await,
        ));
    }
    out
}

/// Clicks the depot's slot `date` `from` in the grid.
async fn click_slot(b: &Browser, date: &str, from: &str) {
    let css = format!(
        "#slot-grid table[data-site='{DEPOT}'] button[data-date='{date}'][data-from='{from}']"
    );
    b.wait_for(&css).await.click().await.unwrap();
}

/// Presses "Preview the email"; returns the text of the page that answers.
async fn preview(b: &Browser) -> String {
    let button = b.wait_for("#preview").await;
    button.click().await.unwrap();
    b.wait_for_next_page(&button).await;
    b.text().await
}

/// Presses "Accept and send" on the preview; the desk confirms it on the
/// next offer of the queue (or the queue), then this goes back to the offer.
async fn send(b: &Browser) {
    let mut offer = b.client.current_url().await.unwrap();
    let path = offer.path().trim_end_matches("/accept/preview").to_string();
    offer.set_path(&path);
    offer.set_query(None);
    let button = b.wait_for("#send").await;
    button.click().await.unwrap();
    b.wait_for_next_page(&button).await;
    b.wait_for("#undo-banner").await;
    b.client.goto(offer.as_str()).await.unwrap();
    b.wait_for("#booking").await;
}

/// The first slot of the depot at least two hours away with room for
/// `room` more (so the test is not raced by the clock), from what the grid shows.
async fn a_later_free_slot(b: &Browser) -> (String, String) {
    let soon = local_now() + chrono::Duration::hours(2);
    depot_slots(b)
        .await
        .into_iter()
        .find(|(date, from, class)| {
            let at = NaiveDateTime::new(
                NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
                NaiveTime::parse_from_str(from, "%H:%M").unwrap(),
            );
            at > soon && !class.contains("full") && !class.contains("past")
        })
        .map(|(d, f, _)| (d, f))
        .expect("a free depot slot in the next week")
}

/// Now in the server's zone, where the depot's hours are (it names no zone).
fn local_now() -> NaiveDateTime {
    slots::Zone::Server.local(slots::now())
}

fn start_of(date: &str, from: &str) -> NaiveDateTime {
    NaiveDateTime::new(
        NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
        NaiveTime::parse_from_str(from, "%H:%M").unwrap(),
    )
}

fn hour_after(from: &str) -> String {
    let t = NaiveTime::parse_from_str(from, "%H:%M").unwrap() + chrono::Duration::hours(1);
    t.format("%H:%M").to_string()
}

/// The raw messages in `donor`'s Dovecot INBOX once there are `n`.
async fn mailbox(app: &TestApp, donor: &str, n: usize) -> Vec<Vec<u8>> {
    app.send_all_to_mailbox(donor, n).await;
    common::wait_for_count(donor, "INBOX", n, Duration::from_secs(30)).await
}

/// The `.ics` of a message, unfolded, and its Content-Type's method.
fn calendar(raw: &[u8]) -> (String, String) {
    let msg = MessageParser::default().parse(raw).unwrap();
    let part = msg
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
        })
        .unwrap_or_else(|| panic!("no calendar in {}", String::from_utf8_lossy(raw)));
    let method = part
        .content_type()
        .and_then(|c| c.attribute("method"))
        .unwrap_or_default()
        .to_string();
    let ics = String::from_utf8_lossy(part.contents()).replace("\r\n ", "");
    (ics, method)
}

fn ics_value(ics: &str, key: &str) -> String {
    ics.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {ics}"))
        .to_string()
}

fn body_text(raw: &[u8]) -> String {
    let msg = MessageParser::default().parse(raw).unwrap();
    format!(
        "{}\n{}",
        msg.subject().unwrap_or_default(),
        msg.body_text(0).unwrap_or_default()
    )
}

#[tokio::test]
async fn accepting_preselects_the_first_free_slot_and_books_it() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start().await;
    let donor = common::unique_address("slots-accept");
    let id = seed_offer(&app, &donor).await;
    let b = login(&app).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;

    let grid = b.wait_for("#slot-grid").await.text().await.unwrap();
    assert!(grid.contains("2 left"), "{grid}");
    // Preselected: the first free slot at least an hour away (the donor
    // needs time to read the email); free ones before it are sooner.
    let shown = depot_slots(&b).await;
    let chosen: Vec<_> = shown
        .iter()
        .filter(|(_, _, c)| c.contains("chosen"))
        .collect();
    assert_eq!(chosen.len(), 1, "{shown:?}");
    let first_free = chosen[0].clone();
    assert!(!first_free.2.contains("past") && !first_free.2.contains("full"));
    let soon = local_now() + chrono::Duration::minutes(61);
    for (date, from, class) in shown
        .iter()
        .take_while(|s| s.2 != first_free.2 || s.0 != first_free.0 || s.1 != first_free.1)
    {
        assert!(
            class.contains("past") || class.contains("full") || start_of(date, from) < soon,
            "{date} {from} is free and was not suggested"
        );
    }
    assert_eq!(value(&b, "site").await, DEPOT);
    assert_eq!(value(&b, "date").await, first_free.0);
    assert_eq!(value(&b, "from").await, first_free.1);
    assert_eq!(value(&b, "to").await, hour_after(&first_free.1));

    let email = preview(&b).await;
    assert!(
        email.contains("Please bring it to") && email.contains(DEPOT),
        "{email}"
    );
    send(&b).await;
    let page = b.text().await;
    assert!(page.contains("Booked: drop-off at Central depot"), "{page}");
    let booking = app.store.booking(id).await.unwrap().unwrap();
    assert_eq!(
        booking.starts_at.format("%Y-%m-%d %H:%M").to_string(),
        format!("{} {}", first_free.0, first_free.1)
    );
    assert_eq!((booking.sequence, booking.state), (0, BookingState::Booked));

    // The slot now shows one place left to the next offer.
    let other = seed_offer(&app, &common::unique_address("slots-accept-2")).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{other}"))).await;
    let slot = depot_slots(&b)
        .await
        .into_iter()
        .find(|(d, f, _)| (d, f) == (&first_free.0, &first_free.1))
        .unwrap();
    let css = format!(
        "#slot-grid button[data-date='{}'][data-from='{}']",
        slot.0, slot.1
    );
    assert_eq!(b.wait_for(&css).await.text().await.unwrap(), "1 left");
    b.close().await;
}

#[tokio::test]
async fn a_full_slot_is_refused_until_staff_tick_overbook() {
    let app = TestApp::start().await;
    let id = seed_offer(&app, "full@example.test").await;
    let b = login(&app).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let (date, from) = a_later_free_slot(&b).await;

    // Two colleagues fill the slot (capacity 2 an hour).
    let desk = Desk {
        store: &app.store,
        composer: &app.state.composer,
        actor: "colleague@city.example",
    };
    let start = NaiveDateTime::new(
        NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap(),
        NaiveTime::parse_from_str(&from, "%H:%M").unwrap(),
    );
    for n in 0..2 {
        let other = seed_offer(&app, &format!("filler-{n}@example.test")).await;
        let choice = SlotChoice {
            site: DEPOT.into(),
            mode: BookingMode::Dropoff,
            address: None,
            start,
            end: start + chrono::Duration::hours(1),
            notes: None,
            overbook: false,
        };
        slots::book(desk, OfferRef::from(other), &choice, slots::now())
            .await
            .unwrap();
    }

    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let css = format!("#slot-grid button[data-date='{date}'][data-from='{from}']");
    assert_eq!(b.wait_for(&css).await.text().await.unwrap(), "full");
    click_slot(&b, &date, &from).await;
    let refused = preview(&b).await;
    assert!(refused.contains("is full (2 of 2 booked)"), "{refused}");
    assert!(refused.contains("overbook"), "{refused}");
    assert_eq!(
        app.store.booking(id).await.unwrap().map(|b| b.offer_id),
        None
    );

    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    click_slot(&b, &date, &from).await;
    b.click("overbook").await;
    let email = preview(&b).await;
    assert!(email.contains("over its capacity"), "{email}");
    send(&b).await;
    assert!(b.text().await.contains("overbooked"));
    let booking = app.store.booking(id).await.unwrap().unwrap();
    assert!(booking.overbooked && booking.starts_at == start);
    b.close().await;
}

#[tokio::test]
async fn a_date_in_the_past_is_refused() {
    let app = TestApp::start().await;
    let id = seed_offer(&app, "past@example.test").await;
    let b = login(&app).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let yesterday = (local_now().date() - chrono::Duration::days(1)).format("%Y-%m-%d");
    b.run(&format!(
        "document.getElementById('date').value = '{yesterday}';
         document.getElementById('from').value = '10:00';
         document.getElementById('to').value = '11:00';"
    ))
    .await;
    // The browser refuses a day before today…
    let under = b
        .run("return document.getElementById('date').validity.rangeUnderflow;")
        .await;
    assert_eq!(under, serde_json::Value::Bool(true));
    // …and so does the site, for a browser that does not check.
    b.run("document.getElementById('accept-form').noValidate = true;")
        .await;
    let refused = preview(&b).await;
    assert!(
        refused.contains("has passed: choose a time from now on"),
        "{refused}"
    );
    assert_eq!(
        app.store.booking(id).await.unwrap().map(|b| b.offer_id),
        None
    );
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "new");
    b.close().await;
}

#[tokio::test]
async fn a_pickup_at_the_donors_edited_address_is_emailed_with_that_address() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start().await;
    let donor = common::unique_address("slots-pickup");
    let id = seed_offer(&app, &donor).await;
    let b = login(&app).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    assert_eq!(
        value(&b, "pickup-address").await,
        "22 Ocean Ave, Torrance CA"
    );
    b.click("mode-pickup").await;
    let field = b.wait_for("#pickup-address").await;
    field.clear().await.unwrap();
    field
        .send_keys("24 Ocean Ave, Unit 3, Torrance CA 90501")
        .await
        .unwrap();
    let email = preview(&b).await;
    assert!(email.contains("We will collect your donation"), "{email}");
    assert!(
        email.contains("24 Ocean Ave, Unit 3, Torrance CA 90501"),
        "{email}"
    );
    send(&b).await;
    let page = b.text().await;
    assert!(page.contains("pickup at 24 Ocean Ave, Unit 3"), "{page}");
    b.close().await;

    let mail = mailbox(&app, &donor, 1).await;
    let text = body_text(&mail[0]);
    assert!(text.contains("We will collect your donation SL-"), "{text}");
    assert!(
        text.contains("Where: 24 Ocean Ave, Unit 3, Torrance CA 90501"),
        "{text}"
    );
    assert!(!text.contains("22 Ocean Ave"), "{text}");
    let (ics, method) = calendar(&mail[0]);
    assert_eq!(method, "PUBLISH");
    assert!(
        ics_value(&ics, "LOCATION").contains("24 Ocean Ave"),
        "{ics}"
    );
}

/// The donor answers our email asking for another time; processing reads it.
async fn donor_asks_to_reschedule(app: &TestApp, donor: &str, ours: &[u8]) {
    let msg = MessageParser::default().parse(ours).unwrap();
    let parent = msg.message_id().unwrap().to_string();
    let subject = msg.subject().unwrap().to_string();
    let raw = format!(
        "From: Lee Park <{donor}>\r\nTo: donations@city.example\r\nSubject: Re: {subject}\r\n\
         Message-ID: <resched-{donor}>\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n\r\n\
         Sorry, I can't make it then. Could we reschedule?\r\n\r\n> Please bring it to\r\n"
    );
    app.store
        .store_local("INBOX", raw.as_bytes())
        .await
        .unwrap();
    let desk = "donations@city.example";
    let processor = Processor::new(
        app.store.clone(),
        Arc::new(Rules::embedded().unwrap()),
        Arc::new(Composer::new(None, desk, "City Donations Desk", None).unwrap()),
        ReplyPolicy::new(desk, Duration::from_secs(600)),
    );
    assert_eq!(processor.process_batch(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_reschedule_and_a_cancellation_update_the_same_calendar_event() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start().await;
    let donor = common::unique_address("slots-resched");
    let id = seed_offer(&app, &donor).await;
    let b = login(&app).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    preview(&b).await;
    send(&b).await;
    let first = app.store.booking(id).await.unwrap().unwrap();
    let mail = mailbox(&app, &donor, 1).await;
    let (ics, method) = calendar(&mail[0]);
    let uid = ics_value(&ics, "UID");
    assert_eq!(
        (method.as_str(), ics_value(&ics, "SEQUENCE").as_str()),
        ("PUBLISH", "0")
    );
    assert_eq!(ics_value(&ics, "METHOD"), "PUBLISH");

    // The donor's reply reopens the offer for staff.
    donor_asks_to_reschedule(&app, &donor, &mail[0]).await;
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "new");
    // Its history in the order it happened: the reply, then the reopening.
    let history = app.store.offer_history(id).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions[actions.len() - 2..],
        ["donor_reply", "reschedule_asked"]
    );
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let page = b.text().await;
    assert!(page.contains("The donor asks for another time"), "{page}");

    // Staff choose another slot: the same event moves.
    let (date, from) = a_later_free_slot(&b).await;
    let (date, from) = if (date.as_str(), from.as_str())
        == (
            first.starts_at.format("%Y-%m-%d").to_string().as_str(),
            first.starts_at.format("%H:%M").to_string().as_str(),
        ) {
        let next = depot_slots(&b)
            .await
            .into_iter()
            .skip_while(|(d, f, _)| (d, f) != (&date, &from))
            .nth(1)
            .unwrap();
        (next.0, next.1)
    } else {
        (date, from)
    };
    click_slot(&b, &date, &from).await;
    preview(&b).await;
    send(&b).await;
    let mail = mailbox(&app, &donor, 2).await;
    let (ics, method) = calendar(&mail[1]);
    assert_eq!(ics_value(&ics, "UID"), uid);
    assert_eq!(
        (method.as_str(), ics_value(&ics, "SEQUENCE").as_str()),
        ("PUBLISH", "1")
    );
    let want_start = format!("{}T{}00", date.replace('-', ""), from.replace(':', ""));
    assert_eq!(ics_value(&ics, "DTSTART"), want_start);

    // Staff cancel: the donor's calendar removes the event, the slot is free.
    let cancel = b.wait_for("#cancel-booking").await;
    cancel.click().await.unwrap();
    b.wait_for_next_page(&cancel).await;
    let page = b.wait_for("#booking").await.text().await.unwrap();
    assert!(page.starts_with("Cancelled"), "{page}");
    let mail = mailbox(&app, &donor, 3).await;
    let (ics, method) = calendar(&mail[2]);
    assert_eq!(method, "CANCEL");
    assert_eq!(ics_value(&ics, "METHOD"), "CANCEL");
    assert_eq!(ics_value(&ics, "UID"), uid);
    assert_eq!(ics_value(&ics, "SEQUENCE"), "2");
    assert_eq!(ics_value(&ics, "STATUS"), "CANCELLED");
    assert!(body_text(&mail[2]).contains("is cancelled"));
    let booking = app.store.booking(id).await.unwrap().unwrap();
    assert_eq!(booking.state, BookingState::Cancelled);
    let css = format!("#slot-grid button[data-date='{date}'][data-from='{from}']");
    assert_eq!(
        b.wait_for(&css).await.text().await.unwrap(),
        "2 left",
        "the slot is free again"
    );
    b.close().await;
}

#[tokio::test]
async fn a_shortfall_on_receipt_is_flagged_on_the_offer_and_the_dashboard() {
    let app = TestApp::start().await;
    let id = seed_offer(&app, "short@example.test").await;
    let b = login(&app).await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    preview(&b).await;
    send(&b).await;
    let field = b.wait_for("input[name='received']").await;
    field.clear().await.unwrap();
    field.send_keys("320").await.unwrap();
    let record = b
        .wait_for("form[action*='/received'] button[type='submit']")
        .await;
    record.click().await.unwrap();
    b.wait_for_next_page(&record).await;
    // The desk confirms it on the next offer (here: the queue, now empty).
    b.wait_for("#undo-banner").await;
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let flagged = b.wait_for("#shortfalls").await.text().await.unwrap();
    assert!(
        flagged.contains("n95_respirator: received 320 of 500"),
        "{flagged}"
    );
    b.goto(&app.url("/dashboard")).await;
    let row = b
        .wait_for("table.shortfalls tr.shortfall")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        row.contains(&OfferRef::from(id).to_string()) && row.contains("180"),
        "{row}"
    );
    b.close().await;
}

#[tokio::test]
async fn a_declined_offer_no_longer_holds_its_slot() {
    let app = TestApp::start().await;
    let id = seed_offer(&app, "declined@example.test").await;
    let desk = Desk {
        store: &app.store,
        composer: &app.state.composer,
        actor: "triager@city.example",
    };
    // Next week's Monday 10:00, when the depot is open.
    let today = local_now().date();
    let monday = (1..=7)
        .map(|d| today + chrono::Duration::days(d))
        .find(|d| chrono::Datelike::weekday(d) == chrono::Weekday::Mon)
        .unwrap();
    let start = monday.and_hms_opt(10, 0, 0).unwrap();
    let window = (start, start + chrono::Duration::hours(1));
    let choice = SlotChoice {
        site: DEPOT.into(),
        mode: BookingMode::Dropoff,
        address: None,
        start: window.0,
        end: window.1,
        notes: None,
        overbook: false,
    };
    slots::book(desk, OfferRef::from(id), &choice, slots::now())
        .await
        .unwrap();
    let held = app.store.site_bookings(DEPOT, window, 0).await.unwrap();
    assert_eq!(held, vec![window]);
    supplyline::decide::decline(desk, OfferRef::from(id), "no longer needed", false)
        .await
        .unwrap();
    assert_eq!(
        app.store.site_bookings(DEPOT, window, 0).await.unwrap(),
        vec![]
    );
}

/// The depot's first hour at least an hour from now by the clock of `tz`,
/// from its hours in examples/needs.toml (Monday to Friday 09:00-17:00,
/// Saturday 09:00-13:00), computed here without supplyline.
fn depot_first_slot_in(tz: chrono_tz::Tz) -> NaiveDateTime {
    let local = Utc::now().with_timezone(&tz).naive_local();
    let local = local.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let earliest = local + chrono::Duration::hours(1);
    (0..8)
        .map(|d| local.date() + chrono::Duration::days(d))
        .flat_map(|date| {
            let close = match date.weekday() {
                Weekday::Sun => 9,
                Weekday::Sat => 13,
                _ => 17,
            };
            (9..close).map(move |h| date.and_hms_opt(h, 0, 0).unwrap())
        })
        .find(|at| *at >= earliest)
        .unwrap()
}

/// The depot in Kiritimati (UTC+14, whatever zone the server is in): the
/// grid says so and preselects the first free hour by the depot's own clock
/// and hours; the donor's email gives the time with the zone, and the
/// invite the same instant in UTC.
#[tokio::test]
async fn a_site_in_another_time_zone_gets_slots_at_its_own_hours() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start().await;
    let kiritimati = chrono_tz::Pacific::Kiritimati;
    let zones = [(DEPOT.to_string(), Zone::Iana(kiritimati))];
    app.store.load_site_zones(&zones).await.unwrap();
    let donor = common::unique_address("slots-zone");
    let id = seed_offer(&app, &donor).await;
    let b = login(&app).await;
    let before = depot_first_slot_in(kiritimati);
    OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let after = depot_first_slot_in(kiritimati);

    let grid = b.wait_for("#slot-grid").await.text().await.unwrap();
    assert!(grid.contains("(times in Pacific/Kiritimati)"), "{grid}");
    let shown = depot_slots(&b).await;
    let chosen: Vec<_> = shown.iter().filter(|s| s.2.contains("chosen")).collect();
    assert_eq!(chosen.len(), 1, "{shown:?}");
    let start = start_of(&chosen[0].0, &chosen[0].1);
    assert!(
        [before, after].contains(&start),
        "{start} suggested, not {before} or {after} (the depot's clock)"
    );

    let window = format!(
        "{} UTC+14",
        slots::window_text(start, start + chrono::Duration::hours(1))
    );
    let email = preview(&b).await;
    assert!(email.contains(&window), "{window} in {email}");
    send(&b).await;
    let booked = b.wait_for("#booking").await.text().await.unwrap();
    let hours = format!(
        "{}–{} UTC+14",
        start.format("%H:%M"),
        (start + chrono::Duration::hours(1)).format("%H:%M")
    );
    assert!(booked.contains(&hours), "{hours} in {booked}");
    let mail = mailbox(&app, &donor, 1).await;
    assert!(body_text(&mail[0]).contains(&window), "{window}");
    let (ics, _) = calendar(&mail[0]);
    let utc = start - chrono::Duration::hours(14);
    let want = utc.format("%Y%m%dT%H%M%SZ").to_string();
    assert_eq!(ics_value(&ics, "DTSTART"), want);
    let end = (utc + chrono::Duration::hours(1)).format("%Y%m%dT%H%M%SZ");
    assert_eq!(ics_value(&ics, "DTEND"), end.to_string());
    b.close().await;
}
