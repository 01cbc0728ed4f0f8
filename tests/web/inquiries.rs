//! Requests and inquiries, which are not offers, and replies staff write:
//! a facility's request processed by the real rules lands in the request
//! queue (not the offers'), and its page shows what is asked, by whom and
//! for when; an inquiry is answered with a snippet edited by hand,
//! previewed, sent, and read back from the donor's Dovecot mailbox under
//! the donor's latest message of the thread; a Spanish snippet an admin creates is offered on a
//! Spanish offer, and only there.

use std::sync::Arc;
use std::time::Duration;

use fantoccini::Locator;
use supplyline::outbox::{Composer, ReplyPolicy};
use supplyline::process::Processor;
use supplyline::rules::Rules;
use supplyline::state::Role;
use supplyline::store::{SnippetEdit, StoreOutcome};
use supplyline::web;

use crate::app::{offer, TestApp, PASSWORD};
use crate::browser::Browser;
use crate::common;
use crate::pages::LoginPage;

const REQUEST: &str = "From: Maria Lopez <maria@eastside-clinic.example>\r\n\
To: donations@city.example\r\n\
Subject: Request for PPE\r\n\
Message-ID: <request-1@eastside-clinic.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Hello,\r\n\r\n\
Eastside Community Clinic is requesting 200 isolation gowns, 10 boxes of gloves\r\n\
and 5 thermometers. We are running out and need them by Friday, December 11.\r\n\r\n\
Maria Lopez\r\n\
Eastside Community Clinic\r\n";

/// Runs the process stage with the built-in rules over what is stored.
async fn process_all(app: &TestApp) {
    let desk = "donations@city.example";
    let composer = Composer::new(None, desk, "City Donations Desk", None).unwrap();
    let processor = Processor::new(
        app.store.clone(),
        Arc::new(Rules::embedded().unwrap()),
        Arc::new(composer),
        ReplyPolicy::new(desk, Duration::from_secs(600)),
    );
    while !processor.process_batch(10).await.unwrap().is_empty() {}
}

async fn add_admin(app: &TestApp) -> &'static str {
    let hash = web::auth::hash_password(PASSWORD).unwrap();
    let admin = "admin@city.example";
    app.store
        .upsert_user(admin, &hash, Role::Admin)
        .await
        .unwrap();
    admin
}

/// The text of the first element `css` selects.
async fn text_of(b: &Browser, css: &str) -> String {
    b.wait_for(css).await.text().await.unwrap()
}

/// Clicks the element with id `id` and waits for the page it leads to.
async fn click_and_wait(b: &Browser, id: &str) {
    let button = b.wait_for(&format!("#{id}")).await;
    button.click().await.unwrap();
    b.wait_for_next_page(&button).await;
}

#[tokio::test]
async fn a_request_goes_to_the_request_queue_and_its_page_shows_what_who_and_when() {
    let app = TestApp::start().await;
    let StoreOutcome::Stored(_) = app
        .store
        .store_local("INBOX", REQUEST.as_bytes())
        .await
        .unwrap()
    else {
        panic!("not stored");
    };
    process_all(&app).await;
    let (rows, _) = app
        .store
        .lane(supplyline::store::Lane::Request, Default::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the rules call it a request");
    let id = rows[0].id;

    let b = Browser::start().await;
    let landed = LoginPage::open(&b, &app.url("/"))
        .await
        .sign_in("triager@city.example")
        .await;
    assert!(landed.ends_with('/'), "{landed}");
    // The offers' queue does not list it; its nav counts it under Requests.
    let queue = b.text().await;
    assert!(!queue.contains("Request for PPE"), "{queue}");
    assert_eq!(text_of(&b, "#nav-requests").await, "Requests (1)");
    b.click("nav-requests").await;
    let row = b.wait_for("tr.lane-row").await;
    let line = row.text().await.unwrap();
    assert!(
        line.contains("Request for PPE")
            && line.contains("isolation_gown × 200")
            && line.contains("-12-11"),
        "{line}"
    );
    row.find(Locator::Css("a.ref"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#asked").await;
    assert!(b.url().await.ends_with(&format!("/requests/{id}")));
    let what = text_of(&b, ".asked-what").await;
    assert!(
        what.contains("isolation_gown × 200")
            && what.contains("exam_gloves × 10 box")
            && what.contains("thermometer × 5"),
        "{what}"
    );
    let who = text_of(&b, ".asked-who").await;
    assert!(
        who.contains("Eastside Community Clinic")
            && who.contains("Maria Lopez")
            && who.contains("maria@eastside-clinic.example"),
        "{who}"
    );
    let when = text_of(&b, ".asked-when").await;
    assert!(when.contains("by Friday, December 11"), "{when}");
    assert!(when.contains("-12-11"), "the day it names: {when}");
    // A request is answered, forwarded or handled: no accept-with-pickup form.
    assert!(b.client.find(Locator::Id("accept-form")).await.is_err());
    b.screenshot("request.png").await;
    b.type_into("handled-detail", "County EOC logistics").await;
    click_and_wait(&b, "mark-forwarded").await;
    let state = text_of(&b, "#handling-state").await;
    assert!(
        state.starts_with("Forwarded by triager@city.example") && state.contains("County EOC"),
        "{state}"
    );
    b.goto(&app.url("/requests")).await;
    assert_eq!(text_of(&b, "#nav-requests").await, "Requests (0)");
    b.close().await;
    let history = app.store.offer_history(id).await.unwrap();
    assert!(
        history.iter().any(|h| h.action == "forwarded"),
        "{history:?}"
    );
}

#[tokio::test]
async fn an_inquiry_is_answered_with_an_edited_snippet_previewed_and_threaded_to_the_donor() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start().await;
    let donor = common::unique_address("asker");
    let raw = format!(
        "From: Sam Park <{donor}>\nTo: donations@city.example\nSubject: Do you take opened boxes?\n\
         Message-ID: <question-1@example.test>\n\nHi, do you take opened boxes of gloves? Sam\n"
    );
    let mut inquiry = offer(&donor, "Sam Park", "Do you take opened boxes?", "", vec![]);
    inquiry.category = "inquiry".into();
    let id = app.seed(raw.as_bytes(), inquiry).await;
    // The donor writes again in the thread before anyone answers.
    let again = format!(
        "From: Sam Park <{donor}>\nTo: donations@city.example\nSubject: Re: Do you take opened boxes?\n\
         Message-ID: <question-2@example.test>\nIn-Reply-To: <question-1@example.test>\n\
         References: <question-1@example.test>\n\nAnd hand sanitizer?\n"
    );
    app.store
        .store_local("INBOX", again.as_bytes())
        .await
        .unwrap();
    process_all(&app).await;
    assert_eq!(app.store.offer(id).await.unwrap().messages.len(), 2);
    let snippet = SnippetEdit {
        name: "Opened boxes".into(),
        language: "en".into(),
        body: "We can only take unopened boxes, for hygiene reasons.".into(),
    };
    app.store
        .save_snippet(None, "admin@city.example", &snippet)
        .await
        .unwrap();

    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/inquiries"))
        .await
        .sign_in("triager@city.example")
        .await;
    b.wait_for("tr.lane-row a.ref").await.click().await.unwrap();
    b.wait_for("#reply-body").await;
    assert!(b.url().await.ends_with(&format!("/inquiries/{id}")));
    b.type_into("reply-body", "Hello Sam,\n\n").await;
    b.click("insert-snippet").await;
    b.type_into("reply-body", " Thank you for asking!").await;
    let typed: String = b
        .run("return document.getElementById('reply-body').value;")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        typed,
        "Hello Sam,\n\nWe can only take unopened boxes, for hygiene reasons. Thank you for asking!"
    );
    // The first click previews; nothing is queued yet.
    click_and_wait(&b, "reply-preview").await;
    assert!(app.store.offer(id).await.unwrap().replies.is_empty());
    let email = text_of(&b, "#reply-email").await;
    assert!(
        email.contains(&format!("To: {donor}"))
            && email.contains(&format!("Subject: Re: your message (SL-{id:06})"))
            && email.contains("hygiene reasons. Thank you for asking!")
            && email.contains("City Donations Desk"),
        "{email}"
    );
    b.screenshot("reply-preview.png").await;
    click_and_wait(&b, "reply-send").await;
    b.wait_for("#handling-state").await;
    assert!(text_of(&b, "#handling-state").await.starts_with("Answered"));
    assert!(text_of(&b, "#replies ~ .reply").await.contains("message"));
    b.close().await;

    let mail = app.send_all_to_mailbox(&donor, 1).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let eml = &mail[0];
    assert!(
        eml.contains("In-Reply-To: <question-2@example.test>")
            && eml.contains("References: <question-1@example.test> <question-2@example.test>"),
        "under the donor's latest message: {eml}"
    );
    assert!(
        eml.contains(&format!("Subject: Re: your message (SL-{id:06})"))
            && eml.contains("Hello Sam,")
            && eml.contains("for hygiene reasons. Thank you for asking!"),
        "{eml}"
    );
    let actions: Vec<String> = app
        .store
        .offer_history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert!(
        actions.iter().any(|a| a == "replied") && actions.iter().any(|a| a == "reply_sent"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn an_admin_creates_a_spanish_snippet_and_it_is_offered_on_a_spanish_offer() {
    let app = TestApp::start().await;
    let admin = add_admin(&app).await;
    let mut spanish = offer(
        "lucia@clinica.example",
        "Lucía",
        "Donación de guantes",
        "90011",
        vec![],
    );
    spanish.language = Some("es".into());
    let es = app
        .seed(
            b"From: Lucia <lucia@clinica.example>\nSubject: Donacion de guantes\nMessage-ID: <es-1@clinica.example>\n\nTenemos guantes.\n",
            spanish,
        )
        .await;
    let english = app
        .seed(
            b"From: Bo <bo@salon.example>\nSubject: gloves\nMessage-ID: <g@salon.example>\n\nWe have gloves.\n",
            offer("bo@salon.example", "Bo", "gloves", "90210", vec![]),
        )
        .await;

    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/snippets"))
        .await
        .sign_in(admin)
        .await;
    b.type_into("snippet-name", "Gracias").await;
    b.run("document.getElementById('snippet-language').value = 'es';")
        .await;
    b.type_into("snippet-body", "Muchas gracias por su donación.")
        .await;
    click_and_wait(&b, "snippet-create").await;
    let listed = text_of(&b, ".snippet").await;
    assert!(
        listed.contains("Gracias") && listed.contains("es"),
        "{listed}"
    );

    b.goto(&app.url(&format!("/offers/{es}"))).await;
    let options = text_of(&b, "#snippet").await;
    assert!(options.contains("Gracias"), "{options}");
    b.click("insert-snippet").await;
    click_and_wait(&b, "reply-preview").await;
    let email = text_of(&b, "#reply-email").await;
    assert!(
        email.contains(&format!("Subject: Re: su mensaje (SL-{es:06})"))
            && email.contains("Muchas gracias por su donación."),
        "{email}"
    );
    // An English offer is not offered the Spanish snippet.
    b.goto(&app.url(&format!("/offers/{english}"))).await;
    let options = text_of(&b, "#snippet").await;
    assert!(!options.contains("Gracias"), "{options}");
    b.close().await;
}

/// Puts `address` on the suppression list as a hard bounce would.
async fn suppress(app: &TestApp, address: &str) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO suppressions (address, suppressed_at, reason, updated_at)
         VALUES (?, 1585069331000, '550 5.1.1 user unknown', 0)",
    )
    .bind(address)
    .execute(&mut db)
    .await
    .unwrap();
}

#[tokio::test]
async fn who_may_reply_handle_and_edit_snippets_and_a_reply_to_a_suppressed_donor_is_held() {
    use crate::http::{call, get, login_http, post};
    use axum::http::StatusCode;

    let app = TestApp::start().await;
    let admin = add_admin(&app).await;
    let donor = "gone@closed.example";
    let mut inquiry = offer(donor, "Gone", "A question", "", vec![]);
    inquiry.category = "inquiry".into();
    let id = app
        .seed(
            b"From: Gone <gone@closed.example>\nSubject: A question\nMessage-ID: <q@closed.example>\n\nWhen are you open?\n",
            inquiry,
        )
        .await;
    suppress(&app, donor).await;
    let reply = format!("/offers/{id}/reply");
    let (viewer, v_csrf) = login_http(&app, "viewer@city.example").await;
    let (triager, t_csrf) = login_http(&app, "triager@city.example").await;
    let (admin, a_csrf) = login_http(&app, admin).await;

    // Who may do what.
    let form = |csrf: &str, rest: &str| format!("csrf={csrf}&{rest}");
    let (status, _, _) = call(&app, post(&reply, &viewer, &form(&v_csrf, "body=Hi"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let snippet = "name=Hours&language=en&body=We+open+at+nine.";
    for (cookie, csrf) in [(&viewer, &v_csrf), (&triager, &t_csrf)] {
        let (status, _, _) = call(&app, post("/snippets", cookie, &form(csrf, snippet))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _, _) = call(&app, post("/snippets", &admin, &form(&a_csrf, snippet))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = call(&app, post("/snippets", &admin, &form(&a_csrf, snippet))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one Hours in en: {page}");
    let hours = app.store.snippets(Some("en")).await.unwrap()[0].id;

    // Without script, Insert puts the snippet after what was typed.
    let insert = form(&t_csrf, &format!("body=Hi&snippet={hours}&insert=1"));
    let (status, _, page) = call(&app, post(&format!("{reply}/preview"), &triager, &insert)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Hi\n\nWe open at nine.</textarea>"), "{page}");
    // Empty replies and forwards to no one are refused; a preview queues nothing.
    let (status, _, _) = call(&app, post(&reply, &triager, &form(&t_csrf, "body=+"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let handled = format!("/offers/{id}/handled");
    let (status, _, _) = call(
        &app,
        post(&handled, &triager, &form(&t_csrf, "outcome=forwarded")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let text = form(&t_csrf, "body=We+open+at+nine.");
    let (status, _, page) = call(&app, post(&format!("{reply}/preview"), &triager, &text)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"reply-send\""), "{page}");
    assert!(app.store.offer(id).await.unwrap().replies.is_empty());

    // Sent to a suppressed address, it is held; sent twice, it is queued once.
    for _ in 0..2 {
        let (status, location, _) = call(&app, post(&reply, &triager, &text)).await;
        assert_eq!(
            (status, location),
            (StatusCode::SEE_OTHER, format!("/inquiries/{id}#replies"))
        );
    }
    let replies = app.store.offer(id).await.unwrap().replies;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(
        (replies[0].kind.as_str(), replies[0].state),
        ("message", "held".parse().unwrap())
    );
    assert!(
        app.send_all().await.is_empty(),
        "nothing goes to a suppressed address"
    );
    let (_, _, page) = call(&app, get(&format!("/inquiries/{id}"), &triager)).await;
    assert!(page.contains("Answered by triager@city.example"), "{page}");
    assert!(
        page.contains(&format!("/replies/{}/send", replies[0].id)),
        "the held reply can be sent on from the inquiry's page: {page}"
    );
    // Reopened, it is back in the open inquiries; the history says so.
    let reopen = form(&t_csrf, "outcome=open");
    let (status, _, _) = call(&app, post(&handled, &triager, &reopen)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.lane_counts().await.unwrap().inquiries, 1);
    let history = app.store.offer_history(id).await.unwrap();
    assert!(history
        .iter()
        .any(|h| h.action == "reopened" && h.detail == "answered"));
    // An offer's address under /inquiries leads to its offer page.
    let (dentist, _) = crate::app::seed_two(&app).await;
    // The main queue counts offers only, unless a category is chosen.
    for (query, total) in [("", "2 offers"), ("?category=inquiry", "1 offer")] {
        let (_, _, page) = call(&app, get(&format!("/{query}"), &viewer)).await;
        assert!(page.contains(&format!("<small>{total}</small>")), "{page}");
    }
    let (_, _, page) = call(&app, get("/?q=question", &viewer)).await;
    assert!(page.contains("<small>0 offers</small>"), "{page}");
    let (status, location, _) = call(&app, get(&format!("/inquiries/{dentist}"), &viewer)).await;
    assert_eq!(
        (status, location),
        (StatusCode::SEE_OTHER, format!("/offers/{dentist}"))
    );

    // An admin changes and deletes the snippet.
    let update = form(&a_csrf, "name=Hours&language=en&body=We+open+at+ten.");
    let (status, _, _) = call(&app, post(&format!("/snippets/{hours}"), &admin, &update)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.snippets(None).await.unwrap()[0].body,
        "We open at ten."
    );
    let delete = format!("/snippets/{hours}/delete");
    let (status, _, _) = call(&app, post(&delete, &triager, &form(&t_csrf, ""))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(&app, post(&delete, &admin, &form(&a_csrf, ""))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(app.store.snippets(None).await.unwrap().is_empty());
}

/// The page is no wider than a `width` px screen: nothing scrolls sideways.
async fn fits(b: &Browser, width: i64, what: &str) {
    let sizes = b
        .run("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    let (scroll, inner) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
    assert!(
        scroll <= width && inner <= width,
        "{what}: {scroll} px wide, window {inner} px, on a {width} px screen"
    );
}

#[tokio::test]
async fn the_request_pages_and_a_reply_preview_fit_a_phone_screen() {
    let app = TestApp::start().await;
    app.store
        .store_local("INBOX", REQUEST.as_bytes())
        .await
        .unwrap();
    process_all(&app).await;
    let admin = add_admin(&app).await;
    let long = SnippetEdit {
        name: "Long".into(),
        language: "en".into(),
        body: format!("See {}", "x".repeat(200)),
    };
    app.store.save_snippet(None, admin, &long).await.unwrap();
    let b = Browser::start_with_size(390, 844).await;
    LoginPage::open(&b, &app.url("/requests"))
        .await
        .sign_in(admin)
        .await;
    b.wait_for("tr.lane-row").await;
    fits(&b, 390, "the request queue").await;
    b.goto(&app.url("/requests/1")).await;
    b.wait_for("#asked").await;
    fits(&b, 390, "a request").await;
    b.click("insert-snippet").await;
    click_and_wait(&b, "reply-preview").await;
    b.wait_for("#reply-email").await;
    fits(&b, 390, "a reply's preview").await;
    b.screenshot("reply-phone.png").await;
    b.goto(&app.url("/snippets")).await;
    b.wait_for(".snippet").await;
    fits(&b, 390, "the snippets").await;
    b.close().await;
}
