//! Who gets in and where they land: every route needs a session, forms
//! need their CSRF token, viewers cannot change anything, failed logins are
//! slowed down (not locked out), and login returns staff only to a page of
//! this site.

use std::time::Duration;

use axum::http::StatusCode;

use crate::app::{seed_two, TestApp, PASSWORD};
use crate::browser::Browser;
use crate::http::{
    call, get, login_form, login_http, login_location_with_next, login_page_cookie, post, press,
    press_for, waiting_seconds,
};
use crate::pages::{LoginPage, OfferPage, QueuePage};

#[tokio::test]
async fn every_route_without_a_session_redirects_to_login() {
    let app = TestApp::start().await;
    let (id, _) = seed_two(&app).await;
    let gets = [
        "/".to_string(),
        "/dashboard".into(),
        "/failed".into(),
        "/replies/held".into(),
        "/suppressions".into(),
        format!("/offers/{id}"),
        "/export/offers.csv".into(),
        "/export/items.csv".into(),
        "/messages/1".into(),
        "/messages/1/attachments/0".into(),
    ];
    for path in gets {
        // Login brings the person back to the page asked for.
        let login = match path.as_str() {
            "/" => "/login".to_string(),
            _ => format!("/login?next={path}"),
        };
        let (status, location, _) = call(&app, get(&path, "")).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, login.as_str()),
            "GET {path}"
        );
        let (status, location, _) = call(&app, get(&path, "sl_session=forged")).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, login.as_str()),
            "GET {path} forged"
        );
    }
    let posts = [
        "/logout",
        "/bulk",
        "/offers/1/items",
        "/offers/1/items/1",
        "/offers/1/items/1/remove",
        "/offers/1/notes",
        "/offers/1/accept/preview",
        "/offers/1/accept",
        "/offers/1/decline",
        "/offers/1/spam",
        "/offers/1/merge",
        "/offers/1/received",
        "/failed/1/retry",
        "/replies/1/send",
        "/replies/1/discard",
        "/suppressions/lift",
    ];
    for path in posts {
        let (status, location, _) = call(&app, post(path, "", "csrf=x")).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/login"),
            "POST {path}"
        );
    }
    let (status, _, page) = call(&app, get("/login", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"password\""));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = TestApp::start().await;
    let (id, _) = seed_two(&app).await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let path = format!("/offers/{id}/notes");
    for form in [
        "body=hello".to_string(),
        "body=hello&csrf=".into(),
        format!("body=hello&csrf={}", "0".repeat(csrf.len())),
    ] {
        let (status, _, page) = call(&app, post(&path, &cookie, &form)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{form}");
        assert!(page.contains("form has expired"), "{page}");
    }
    assert!(app.store.notes(id).await.unwrap().is_empty());
    let (status, _, _) = call(
        &app,
        post(&path, &cookie, &format!("body=hello&csrf={csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.notes(id).await.unwrap().len(), 1);
    // The login form has its own token.
    let (status, _, _) = call(
        &app,
        post("/login", "", "email=triager%40city.example&password=x"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Logout needs the token too, and then the session is gone.
    let (status, _, _) = call(&app, post("/logout", &cookie, "csrf=")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, _) = press_for(&app, "/logout", &cookie, &csrf).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let (status, location, _) = call(&app, get("/", &cookie)).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_change() {
    let app = TestApp::start().await;
    let (id, _) = seed_two(&app).await;
    let (cookie, csrf) = login_http(&app, "viewer@city.example").await;
    let (status, _, page) = call(&app, get(&format!("/offers/{id}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Preview the email"));
    let status = press(&app, &format!("/offers/{id}/spam"), &cookie, &csrf).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "new");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited() {
    let app = TestApp::start().await;
    let (cookie, token) = login_page_cookie(&app).await;
    let bad = login_form("triager@city.example", "wrong", &token);
    for _ in 0..5 {
        let (status, _, page) = call(&app, post("/login", &cookie, &bad)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Wrong email or password"));
    }
    let good = login_form("triager@city.example", PASSWORD, &token);
    let (status, _, page) = call(&app, post("/login", &cookie, &good)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Slowed down, not locked out: the page says how long to wait, and
    // after that the right password logs in.
    let wait = waiting_seconds(&page);
    assert!(page.contains("name=\"password\""), "{page}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, location, _) = call(&app, post("/login", &cookie, &good)).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
}

#[tokio::test]
async fn login_redirects_only_to_a_local_next() {
    let app = TestApp::start().await;
    assert_eq!(
        login_location_with_next(&app, "%2Foffers%2F17").await,
        "/offers/17"
    );
    for hostile in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%252F%252Fevil.example",
        "javascript%3Aalert(1)",
        "%2F%0D%0ASet-Cookie%3A+x%3D1",
    ] {
        assert_eq!(
            login_location_with_next(&app, hostile).await,
            "/",
            "{hostile}"
        );
    }
    // The login page does not even carry a hostile next in its form.
    let (_, _, page) = call(&app, get("/login?next=%2F%2Fevil.example", "")).await;
    assert!(page.contains("name=\"password\"") && !page.contains("evil.example"));
    let (_, _, page) = call(&app, get("/login?next=%2Foffers%2F17", "")).await;
    // minijinja's HTML escaping writes `/` as `&#x2f;`.
    assert!(
        page.contains(r#"name="next" value="&#x2f;offers&#x2f;17""#),
        "{page}"
    );
}

#[tokio::test]
async fn a_deep_link_opened_signed_out_returns_there_after_login() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let b = Browser::start().await;
    let deep = format!("/offers/{dentist}");
    let login = LoginPage::open(&b, &app.url(&deep)).await;
    assert_eq!(
        login.address().await,
        ("/login".to_string(), Some(format!("next={deep}")))
    );
    assert_eq!(login.sign_in("triager@city.example").await, app.url(&deep));
    let offer = OfferPage::loaded(&b).await;
    assert!(offer.text().await.contains("Donation: N95 masks and gowns"));

    // A filtered queue keeps its filter through login.
    b.forget_session().await;
    let login = LoginPage::open(&b, &app.url("/?postal=90210")).await;
    assert_eq!(
        login.sign_in("triager@city.example").await,
        app.url("/?postal=90210")
    );
    let rows = QueuePage::loaded(&b).await.offer_links().await;
    assert_eq!(rows.len(), 1, "only the 90210 offer is listed");
    assert_eq!(rows[0], format!("/offers/{gloves}"));
    b.close().await;
}

#[tokio::test]
async fn login_never_sends_the_browser_off_site() {
    let app = TestApp::start().await;
    seed_two(&app).await;
    let b = Browser::start().await;
    for next in [
        "https://evil.example/",
        "//evil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "/%252F%252Fevil.example",
    ] {
        b.forget_session().await;
        let login = LoginPage::open(&b, &app.url(&format!("/login?next={next}"))).await;
        assert_eq!(
            login.sign_in("triager@city.example").await,
            app.url("/"),
            "login with next={next} lands on the queue"
        );
        QueuePage::loaded(&b).await;
    }
    b.close().await;
}
