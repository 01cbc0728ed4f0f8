//! Text from email is hostile: script and markup in every field render as
//! inert text in a real browser, and attachments download, never display.

use axum::http::{header, StatusCode};
use supplyline::web;
use tower::ServiceExt;

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::http::{call, get, login_http};
use crate::pages::{LoginPage, OfferPage};

const SCRIPT: &str = "<script>window.__pwned = 1</script>";
const IMG: &str = "\"><img src=x onerror=\"window.__pwned = 2\">";

#[tokio::test]
async fn hostile_email_renders_inert() {
    let app = TestApp::start().await;
    let body = format!("Offer {SCRIPT} of 10 masks {IMG}\n<b>bold</b> &amp; more\n");
    let raw = format!(
        "From: \"{SCRIPT}{IMG}\" <evil@attacker.example>\nTo: donations@city.example\nSubject: {SCRIPT} {IMG}\nMessage-ID: <evil@attacker.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n{body}\n--b1\nContent-Type: text/html; name=\"x.html\"\nContent-Disposition: attachment; filename=\"{}\"\n\n<script>window.__pwned = 3</script>\n--b1--\n",
        format!("{SCRIPT}{IMG}.html").replace('"', "'")
    );
    let id = app
        .seed(
            raw.as_bytes(),
            offer(
                "evil@attacker.example",
                &format!("{SCRIPT}{IMG}"),
                &format!("{SCRIPT} {IMG}"),
                IMG,
                vec![item(&format!("mask{IMG}"), 10.0, "each", &[(0, 5, SCRIPT)])],
            ),
        )
        .await;
    app.store
        .add_note(id, "triager@city.example", &format!("note {SCRIPT}{IMG}"))
        .await
        .unwrap();
    let b = Browser::start().await;
    LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    for path in [
        "/".to_string(),
        format!("/offers/{id}"),
        "/?q=pwned&status=all".into(),
        "/dashboard".into(),
        "/messages/1".into(),
    ] {
        b.goto(&app.url(&path)).await;
        assert_eq!(
            b.hostile_script_result().await,
            serde_json::Value::Null,
            "{path} ran hostile script"
        );
        assert_eq!(b.image_count().await, 0, "{path} has an <img> from email");
        // Only the site's own scripts (app.js; ownership.js on the queue and offers).
        let own = [app.url("/static/app.js"), app.url("/static/ownership.js")];
        let sources = b.script_sources().await;
        let sources = sources.as_array().unwrap();
        assert_eq!(sources[0], own[0].as_str(), "{path}");
        assert!(
            sources.iter().all(|s| own.iter().any(|o| s == o.as_str())),
            "{path}: {sources:?}"
        );
        assert_eq!(
            b.onerror_handler_count().await,
            serde_json::json!(0),
            "{path}"
        );
    }
    let offer = OfferPage::open(&b, &app.url(&format!("/offers/{id}"))).await;
    let text = offer.text().await;
    assert!(text.contains(SCRIPT), "the payload shows as text: {text}");
    assert!(text.contains("<b>bold</b>"), "{text}");
    b.screenshot("hostile.png").await;
    assert!(offer.attachment_names().await[0].contains("<script>"));
    b.close().await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let res = web::router(app.state.clone())
        .oneshot(get("/messages/1/attachments/0", &cookie))
        .await
        .unwrap();
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    let disposition = res.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"")
            && !disposition[22..disposition.len() - 1].contains(['"', '<', '>']),
        "{disposition}"
    );
}

#[tokio::test]
async fn an_html_only_body_is_shown_as_escaped_text() {
    let app = TestApp::start().await;
    let raw = b"From: H <h@x.example>\nSubject: html\nMessage-ID: <h@x.example>\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>We give <b>50</b> gowns</p><script>alert(1)</script><img src=x onerror=alert(2)></body></html>\n";
    let id = app
        .seed(raw, offer("h@x.example", "H", "html", "", vec![]))
        .await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let (status, _, page) = call(&app, get(&format!("/offers/{id}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("50"), "{page}");
    assert!(
        !page.contains("<img") && !page.contains("<script>alert") && !page.contains("<b>50"),
        "{page}"
    );
}
