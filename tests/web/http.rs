//! The site over HTTP without a browser: requests straight into the
//! router, raw requests over a real connection to the running server, and
//! logging in the way a form post does.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use supplyline::web;
use tower::ServiceExt;

use crate::app::{TestApp, PASSWORD};

pub async fn call(app: &TestApp, req: Request<Body>) -> (StatusCode, String, String) {
    let res = web::router(app.state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, location, String::from_utf8_lossy(&body).to_string())
}

pub fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

pub fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

/// Presses a button whose form carries nothing but its CSRF token (spam,
/// retry, logout); returns the answer's status.
pub async fn press(app: &TestApp, path: &str, cookie: &str, csrf: &str) -> StatusCode {
    press_for(app, path, cookie, csrf).await.0
}

/// Presses such a button; returns the answer's status, `Location` and body.
pub async fn press_for(
    app: &TestApp,
    path: &str,
    cookie: &str,
    csrf: &str,
) -> (StatusCode, String, String) {
    call(app, post(path, cookie, &format!("csrf={csrf}"))).await
}

/// The `Set-Cookie` header of the login page, flags and all.
pub async fn login_page_set_cookie(app: &TestApp) -> String {
    let res = web::router(app.state.clone())
        .oneshot(get("/login", ""))
        .await
        .unwrap();
    let set = res.headers().get(header::SET_COOKIE).unwrap();
    set.to_str().unwrap().to_string()
}

/// Opens the login page over HTTP; returns its login cookie (`name=value`)
/// and the CSRF token the form must carry.
pub async fn login_page_cookie(app: &TestApp) -> (String, String) {
    let set = login_page_set_cookie(app).await;
    let login_cookie = set.split(';').next().unwrap().to_string();
    let token = login_cookie.split_once('=').unwrap().1.to_string();
    (login_cookie, token)
}

/// The login form's body for `email` and `password`, with the login
/// page's CSRF `token`.
pub fn login_form(email: &str, password: &str, token: &str) -> String {
    format!(
        "email={}&password={}&csrf={token}",
        email.replace('@', "%40"),
        password.replace(' ', "+")
    )
}

/// Logs in over HTTP; returns the session cookie and the page's CSRF token.
pub async fn login_http(app: &TestApp, email: &str) -> (String, String) {
    let (login_cookie, token) = login_page_cookie(app).await;
    let form = login_form(email, PASSWORD, &token);
    let res = web::router(app.state.clone())
        .oneshot(post("/login", &login_cookie, &form))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("sl_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let cookie = session.split(';').next().unwrap().to_string();
    let (_, _, page) = call(app, get("/", &cookie)).await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    (cookie, csrf.to_string())
}

/// Logs in over HTTP with `next` (already form-encoded) in the form, as a
/// crafted page could post it; returns where the login redirects to.
pub async fn login_location_with_next(app: &TestApp, next: &str) -> String {
    let (login_cookie, token) = login_page_cookie(app).await;
    let form = format!(
        "{}&next={next}",
        login_form("triager@city.example", PASSWORD, &token)
    );
    let (status, location, _) = call(app, post("/login", &login_cookie, &form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "login with next={next}");
    location
}

/// The N of "wait N s" on a login page.
pub fn waiting_seconds(page: &str) -> u64 {
    let (_, rest) = page
        .split_once("Too many attempts: wait ")
        .unwrap_or_else(|| panic!("no wait on the page: {page}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Sends `request` over a new connection to the running site and returns
/// everything it answers until it closes the connection (at most 60 s).
pub async fn raw_http(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 60 s")
        .unwrap();
    String::from_utf8_lossy(&answer).to_string()
}

/// Logs in over a real connection to the site, with `X-Forwarded-For:
/// forwarded` when given; returns the status code and the page.
pub async fn login_over_tcp(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded: Option<&str>,
) -> (u16, String) {
    let (cookie, token) = login_page_cookie(app).await;
    let form = login_form(email, password, &token);
    let forwarded = forwarded
        .map(|f| format!("X-Forwarded-For: {f}\r\n"))
        .unwrap_or_default();
    let answer = raw_http(
        app,
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n{forwarded}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    )
    .await;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    (status, answer)
}
