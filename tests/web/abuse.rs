//! Abuse of the site (#14): login guesses slowed down per client, also
//! behind a trusted proxy and in parallel; CSV exports that no spreadsheet
//! reads as formulas; stalled connections cut off; oversized staff text
//! refused; bidi controls from email made inert; `Secure` cookies off
//! loopback; log lines a login email cannot forge; disabled and removed
//! accounts logged out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use supplyline::config::WebConfig;
use supplyline::state::Role;
use supplyline::web;

use crate::app::{item, offer, seed_two, TestApp, PASSWORD};
use crate::http::{
    call, get, login_form, login_http, login_over_tcp, login_page_cookie, login_page_set_cookie,
    post, raw_http,
};

#[tokio::test]
async fn parallel_guesses_are_checked_only_as_far_as_the_limit_allows() {
    let app = TestApp::start().await;
    let (cookie, token) = login_page_cookie(&app).await;
    let bad = login_form("triager@city.example", "wrong", &token);
    let guesses = (0..100).map(|_| call(&app, post("/login", &cookie, &bad)));
    let answers = futures::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|(_, _, page)| page.contains("Wrong email or password"))
        .count();
    let told_to_wait = answers
        .iter()
        .filter(|(status, _, page)| {
            *status == StatusCode::TOO_MANY_REQUESTS && page.contains("Too many attempts: wait")
        })
        .count();
    assert_eq!((checked, told_to_wait), (5, 95));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_counted_on_its_own() {
    for trusted in [true, false] {
        let app = TestApp::start_with(WebConfig {
            trusted_proxies: if trusted {
                vec!["127.0.0.1".into()]
            } else {
                vec![]
            },
            ..WebConfig::default()
        })
        .await;
        // One client guesses at many accounts until it is slowed down.
        let guesser = Some("203.0.113.5");
        for n in 0.. {
            let email = format!("guess{n}@city.example");
            let (status, page) = login_over_tcp(&app, &email, "wrong", guesser).await;
            if status == 429 {
                assert!(page.contains("Too many attempts: wait"), "{page}");
                break;
            }
            assert!(n < 50, "never slowed down");
        }
        // Another member of staff behind the same proxy is not.
        let staff = Some("198.51.100.7");
        let (status, page) = login_over_tcp(&app, "triager@city.example", PASSWORD, staff).await;
        if trusted {
            assert_eq!(status, 303, "{page}");
        } else {
            // From an address that is not a trusted proxy, the header is ignored.
            assert_eq!(status, 429, "{page}");
        }
    }
}

#[tokio::test]
async fn csv_export_defuses_formulas_for_either_separator() {
    let app = TestApp::start().await;
    app.seed(
        b"From: Bob <bob@x.example>\nSubject: hi\nMessage-ID: <csv@x.example>\n\nmasks\n",
        offer(
            "bob@x.example",
            "Bob;=1+1",
            "x, -2+3;@SUM(A1)",
            "90210",
            vec![item("exam_gloves", 3.0, "box;=cmd", &[])],
        ),
    )
    .await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    for path in ["/export/offers.csv", "/export/items.csv"] {
        let (status, _, csv) = call(&app, get(path, &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(csv.contains("'="), "{csv}");
        // A spreadsheet splitting on `,` or on `;` never sees a cell that
        // starts a formula, quoted or not.
        for sep in [',', ';'] {
            for cell in csv.lines().flat_map(|l| l.split(sep)) {
                let cell = cell.trim_matches(|c| c == '"' || c == ' ');
                assert!(
                    !cell.starts_with(['=', '+', '-', '@']),
                    "{cell:?} splitting on {sep:?}: {csv}"
                );
            }
        }
    }
    let (_, _, csv) = call(&app, get("/export/offers.csv", &cookie)).await;
    assert!(csv.contains(r#""Bob;'=1+1""#), "{csv}");
}

#[tokio::test]
async fn stalled_requests_are_cut_off_and_a_normal_request_still_answers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start_with(WebConfig {
        header_read_timeout_secs: 1,
        request_timeout_secs: 2,
        max_connections: 20,
        ..WebConfig::default()
    })
    .await;
    // Five times as many half-sent requests as the site serves at once.
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stalled.push(s);
    }
    let answer = raw_http(
        &app,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("name=\"password\""));
    // The server closed every stalled one.
    for mut s in stalled {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a stalled request is still open");
    }
    // A body that never comes ends in 408, not a connection held forever.
    let answer = raw_http(
        &app,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn oversized_staff_text_and_searches_are_refused_or_cut_cleanly() {
    let app = TestApp::start().await;
    let (id, _) = seed_two(&app).await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let huge = "x".repeat(900 * 1024);
    let (status, _, page) = call(
        &app,
        post(
            &format!("/offers/{id}/items"),
            &cookie,
            // A catalog item (#15: staff pick items from the catalog), an overlong unit.
            &format!(
                "csrf={csrf}&item=surgical_mask&quantity=1&unit={}",
                &huge[..40]
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("a unit can have at most 32 characters"),
        "{page}"
    );
    let (status, _, page) = call(
        &app,
        post(
            &format!("/offers/{id}/decline"),
            &cookie,
            &format!("csrf={csrf}&reason={huge}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("a decline reason can have at most"), "{page}");
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "new");
    // A 60 KB search word finds what its start finds, no error.
    let word = "d".repeat(60 * 1024);
    let (status, _, _) = call(&app, get(&format!("/?q={word}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&app, get(&format!("/export/offers.csv?q={word}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bidi_controls_from_email_are_inert_in_pages_and_csv() {
    let app = TestApp::start().await;
    let id = app
        .seed(
            "From: Eve <eve@x.example>\nSubject: invoice\u{202E}fdp.exe\nMessage-ID: <bidi@x.example>\n\nmasks\n".as_bytes(),
            offer(
                "eve@x.example",
                "Eve \u{2067}nimda\u{2069}",
                "invoice\u{202E}fdp.exe",
                "90210",
                vec![item("exam_gloves", 3.0, "box", &[])],
            ),
        )
        .await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    for path in [
        "/".to_string(),
        format!("/offers/{id}"),
        "/export/offers.csv".into(),
    ] {
        let (status, _, page) = call(&app, get(&path, &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains("invoice\u{FFFD}fdp.exe"), "{path}: {page}");
        assert!(!page.contains(bidi), "{path} carries a bidi control");
    }
}

#[tokio::test]
async fn cookies_are_secure_unless_the_site_listens_on_loopback() {
    let app = TestApp::start_with(WebConfig {
        listen: "0.0.0.0:8080".into(),
        ..WebConfig::default()
    })
    .await;
    let set = login_page_set_cookie(&app).await;
    assert!(set.contains("Secure"), "{set}");
    let app = TestApp::start().await;
    let set = login_page_set_cookie(&app).await;
    assert!(!set.contains("Secure"), "{set}");
}

/// Log lines written while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_login_email_cannot_forge_log_lines() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let app = TestApp::start().await;
    let (cookie, token) = login_page_cookie(&app).await;
    let forged = format!(
        "email=x%0aERROR+supplyline%3A+admin+deleted+everything&password=wrong&csrf={token}"
    );
    for n in 0..6 {
        let (status, _, _) = call(&app, post("/login", &cookie, &forged)).await;
        let expected = if n < 5 { 200 } else { 429 };
        assert_eq!(status.as_u16(), expected, "attempt {n}");
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("login slowed down"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("ERROR supplyline")),
        "{text}"
    );
}

#[tokio::test]
async fn a_disabled_or_removed_account_is_logged_out_and_cannot_log_in() {
    let app = TestApp::start().await;
    let (cookie, _) = login_http(&app, "triager@city.example").await;
    assert!(app
        .store
        .disable_user("triager@city.example")
        .await
        .unwrap());
    let (status, location, _) = call(&app, get("/", &cookie)).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let (status, page) = login_over_tcp(&app, "triager@city.example", PASSWORD, None).await;
    assert_eq!(status, 200);
    assert!(page.contains("Wrong email or password"), "{page}");
    let listed = app.store.list_users().await.unwrap();
    assert!(listed
        .iter()
        .any(|u| u.email == "triager@city.example" && u.disabled));
    // Adding it again enables it.
    let hash = web::auth::hash_password(PASSWORD).unwrap();
    app.store
        .upsert_user("triager@city.example", &hash, Role::Triager)
        .await
        .unwrap();
    let (cookie, _) = login_http(&app, "triager@city.example").await;
    assert!(app.store.remove_user("triager@city.example").await.unwrap());
    assert!(!app.store.remove_user("triager@city.example").await.unwrap());
    let (status, _, _) = call(&app, get("/", &cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = login_over_tcp(&app, "triager@city.example", PASSWORD, None).await;
    assert_eq!(status, 200);
    assert_eq!(app.store.list_users().await.unwrap().len(), 1);
}
