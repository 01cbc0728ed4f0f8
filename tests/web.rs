//! The triage web UI against a real server on a loopback port, a fresh
//! SQLite file per test, and (for the browser tests) a real headless
//! Chromium driven over WebDriver by chromedriver.
//!
//! Needs Debian `chromium` and `chromium-driver`. Replies go through the
//! real `Sender`: over SMTP to the test mail stack (OpenSMTPD into Dovecot)
//! for the browser flow, whose pickup email is read back from the donor's
//! mailbox over IMAP; into a folder (`Transport::Directory`) elsewhere.

mod common;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::BodyExt;
use supplyline::config::WebConfig;
use supplyline::outbox::{Composer, RetryPolicy, SendOutcome, Sender, Transport};
use supplyline::store::{MessageFacts, NewOffer, OfferItemRow, Store, StoreOutcome};
use supplyline::web::{self, AppState};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

/// A running site with its database and outbox folder.
struct TestApp {
    dir: tempfile::TempDir,
    store: Store,
    state: AppState,
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl TestApp {
    async fn start() -> TestApp {
        Self::start_with(WebConfig::default()).await
    }

    /// A site with this `[web]` config (its listen address is not used).
    async fn start_with(cfg: WebConfig) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("supplyline.db").display());
        let store = Store::open(&url).await.unwrap();
        let composer =
            Composer::new(None, "donations@city.example", "City Donations Desk", None).unwrap();
        let needs = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/needs.toml");
        web::operations::load_file(&store, &needs).await.unwrap();
        let state = AppState::new(store.clone(), Arc::new(composer), &cfg).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let limits = web::ServeLimits::from(&cfg);
        tokio::spawn(web::serve_on(
            listener,
            state.clone(),
            limits,
            shutdown.clone(),
        ));
        for (email, role) in [
            ("triager@city.example", "triager"),
            ("viewer@city.example", "viewer"),
        ] {
            let hash = web::auth::hash_password(PASSWORD).unwrap();
            store.upsert_user(email, &hash, role).await.unwrap();
        }
        TestApp {
            dir,
            store,
            state,
            addr,
            shutdown,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn outbox_dir(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Stores `raw` and makes it an offer with `items`, as processing would.
    async fn seed(&self, raw: &[u8], offer: NewOffer) -> i64 {
        let StoreOutcome::Stored(message) = self.store.store_local("INBOX", raw).await.unwrap()
        else {
            panic!("duplicate seed message");
        };
        let facts = MessageFacts {
            category: offer.category.clone(),
            from_address: Some(offer.donor_email.clone()),
            subject: offer.subject.clone(),
        };
        self.store
            .complete_with_offer(message, &facts, &offer, |_| None)
            .await
            .unwrap()
    }

    /// Sends every due reply over SMTP through the test mail stack, then
    /// returns what arrived in `donor`'s mailbox.
    async fn send_all_to_mailbox(&self, donor: &str, expected: usize) -> Vec<String> {
        let stack = common::mail_stack();
        let toml = format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nallow_insecure = true\n",
            stack.smtp_port
        );
        let config = supplyline::config::Config::from_str_with_env(
            &toml,
            Path::new("web-test.toml"),
            std::iter::empty(),
        )
        .unwrap();
        let sender = Sender::new(
            self.store.clone(),
            Transport::smtp(config.smtp.as_ref().unwrap()).unwrap(),
            "donations@city.example".parse().unwrap(),
            RetryPolicy {
                max_attempts: 3,
                base: Duration::from_secs(1),
                max: Duration::from_secs(5),
            },
        );
        while sender.send_next().await.unwrap() != SendOutcome::Idle {}
        common::wait_for_count(donor, "INBOX", expected, Duration::from_secs(30))
            .await
            .iter()
            .map(|raw| {
                String::from_utf8_lossy(raw)
                    .replace("=\r\n", "")
                    .to_string()
            })
            .collect()
    }

    /// Sends every due reply into the outbox folder; returns the files' text.
    async fn send_all(&self) -> Vec<String> {
        let sender = Sender::new(
            self.store.clone(),
            Transport::Directory(self.outbox_dir()),
            "donations@city.example".parse().unwrap(),
            RetryPolicy {
                max_attempts: 3,
                base: Duration::from_secs(1),
                max: Duration::from_secs(5),
            },
        );
        while sender.send_next().await.unwrap() != SendOutcome::Idle {}
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.outbox_dir()) {
            for e in entries {
                out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
            }
        }
        out
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn item(name: &str, qty: f64, unit: &str, spans: &[(usize, usize, &str)]) -> OfferItemRow {
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|(s, e, f)| serde_json::json!({"field": f, "start": s, "end": e, "rule": "test"}))
        .collect();
    OfferItemRow {
        item: name.into(),
        quantity: Some(qty),
        unit: Some(unit.into()),
        model: None,
        condition: None,
        expires: None,
        spans_json: serde_json::to_string(&spans).unwrap(),
        source: "extracted".into(),
    }
}

fn offer(
    email: &str,
    name: &str,
    subject: &str,
    postal: &str,
    items: Vec<OfferItemRow>,
) -> NewOffer {
    NewOffer {
        donor_email: email.into(),
        donor_name: Some(name.into()),
        subject: subject.into(),
        category: "offer".into(),
        language: Some("en".into()),
        contact_json: None,
        pickup_json: Some(serde_json::json!({ "postal_code": postal }).to_string()),
        price_quoted: false,
        items,
    }
}

const DENTIST_BODY: &str = "Hello,\n\nOur dental practice is closing for now. We can donate 2000 N95 masks\nand 40 isolation gowns, all unopened. Pickup in Torrance, CA 90501.\n\nBest,\nDr. Ana Ruiz\n";

/// The dentist's offer (high priority) and a small gloves offer.
async fn seed_two(app: &TestApp) -> (i64, i64) {
    let body = DENTIST_BODY;
    let at = |s: &str| {
        let i = body.find(s).unwrap();
        (i, i + s.len())
    };
    let (q1, m1, q2, g2) = (at("2000"), at("N95 masks"), at("40"), at("isolation gowns"));
    let raw = format!(
        "From: Ana Ruiz <ana@dentist.example>\r\nTo: donations@city.example\r\nSubject: Donation: N95 masks and gowns\r\nMessage-ID: <dentist-1@dentist.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        body.replace('\n', "\r\n")
    );
    // Offsets count CRLF as two bytes in the stored text; keep LF offsets valid
    // by giving the spans for the LF text only when the view uses it.
    let _ = raw.len();
    let raw_lf = raw.replace("\r\n", "\n");
    let mut made = offer(
        "ana@dentist.example",
        "Ana Ruiz",
        "Donation: N95 masks and gowns",
        "90501",
        vec![
            item(
                "n95_respirator",
                2000.0,
                "each",
                &[(q1.0, q1.1, "quantity"), (m1.0, m1.1, "item")],
            ),
            item(
                "isolation_gown",
                40.0,
                "each",
                &[(q2.0, q2.1, "quantity"), (g2.0, g2.1, "item")],
            ),
        ],
    );
    made.contact_json = Some(r#"{"organization":"Ruiz Dental","phone":"+1 310 555 0100"}"#.into());
    made.pickup_json = Some(
        r#"{"address":"22 Ocean Ave, Torrance CA","postal_code":"90501","can_deliver":false}"#
            .into(),
    );
    let dentist = app.seed(raw_lf.as_bytes(), made).await;
    let gloves = app
        .seed(
            b"From: Bo <bo@salon.example>\nSubject: gloves\nMessage-ID: <g@salon.example>\n\nWe have 3 boxes of gloves.\n",
            offer("bo@salon.example", "Bo", "gloves", "90210", vec![item("exam_gloves", 3.0, "box", &[])]),
        )
        .await;
    (dentist, gloves)
}

// ---------------------------------------------------------------- HTTP, no browser

async fn call(app: &TestApp, req: Request<Body>) -> (StatusCode, String, String) {
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

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

/// The `Set-Cookie` header of the login page, flags and all.
async fn login_page_set_cookie(app: &TestApp) -> String {
    let res = web::router(app.state.clone())
        .oneshot(get("/login", ""))
        .await
        .unwrap();
    let set = res.headers().get(header::SET_COOKIE).unwrap();
    set.to_str().unwrap().to_string()
}

/// Opens the login page over HTTP; returns its login cookie (`name=value`)
/// and the CSRF token the form must carry.
async fn login_page_cookie(app: &TestApp) -> (String, String) {
    let set = login_page_set_cookie(app).await;
    let login_cookie = set.split(';').next().unwrap().to_string();
    let token = login_cookie.split_once('=').unwrap().1.to_string();
    (login_cookie, token)
}

/// Logs in over HTTP; returns the session cookie and the page's CSRF token.
async fn login_http(app: &TestApp, email: &str) -> (String, String) {
    let (login_cookie, token) = login_page_cookie(app).await;
    let form = format!(
        "email={}&password={}&csrf={token}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
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

#[tokio::test]
async fn every_route_without_a_session_redirects_to_login() {
    let app = TestApp::start().await;
    let (id, _) = seed_two(&app).await;
    let gets = [
        "/".to_string(),
        "/dashboard".into(),
        "/failed".into(),
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
    let (status, location, _) = call(&app, post("/logout", &cookie, &format!("csrf={csrf}"))).await;
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
    let (status, _, _) = call(
        &app,
        post(
            &format!("/offers/{id}/spam"),
            &cookie,
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.offer(id).await.unwrap().offer.status, "new");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited() {
    let app = TestApp::start().await;
    let (cookie, token) = login_page_cookie(&app).await;
    let bad = format!("email=triager%40city.example&password=wrong&csrf={token}");
    for _ in 0..5 {
        let (status, _, page) = call(&app, post("/login", &cookie, &bad)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Wrong email or password"));
    }
    let good = format!(
        "email=triager%40city.example&password={}&csrf={token}",
        PASSWORD.replace(' ', "+")
    );
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

/// The N of "wait N s" on a login page.
fn waiting_seconds(page: &str) -> u64 {
    let (_, rest) = page
        .split_once("Too many attempts: wait ")
        .unwrap_or_else(|| panic!("no wait on the page: {page}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn parallel_guesses_are_checked_only_as_far_as_the_limit_allows() {
    let app = TestApp::start().await;
    let (cookie, token) = login_page_cookie(&app).await;
    let bad = format!("email=triager%40city.example&password=wrong&csrf={token}");
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

/// Logs in over a real connection to the site, with `X-Forwarded-For:
/// forwarded` when given; returns the status code and the page.
async fn login_over_tcp(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded: Option<&str>,
) -> (u16, String) {
    let (cookie, token) = login_page_cookie(app).await;
    let form = format!(
        "email={}&password={}&csrf={token}",
        email.replace('@', "%40"),
        password.replace(' ', "+")
    );
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

/// Logs in over HTTP with `next` (already form-encoded) in the form, as a
/// crafted page could post it; returns where the login redirects to.
async fn login_location_with_next(app: &TestApp, next: &str) -> String {
    let (login_cookie, token) = login_page_cookie(app).await;
    let form = format!(
        "email=triager%40city.example&password={}&csrf={token}&next={next}",
        PASSWORD.replace(' ', "+")
    );
    let (status, location, _) = call(app, post("/login", &login_cookie, &form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "login with next={next}");
    location
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
async fn queue_is_ordered_by_need_and_filters_and_exports() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let (cookie, _) = login_http(&app, "viewer@city.example").await;
    let (_, _, page) = call(&app, get("/", &cookie)).await;
    let (a, b) = (
        page.find(&format!("/offers/{dentist}\"")).unwrap(),
        page.find(&format!("/offers/{gloves}\"")).unwrap(),
    );
    assert!(a < b, "the N95 offer comes first");
    let (_, _, page) = call(&app, get("/?postal=90210", &cookie)).await;
    assert!(
        !page.contains(&format!("/offers/{dentist}\""))
            && page.contains(&format!("/offers/{gloves}\""))
    );
    let (_, _, page) = call(&app, get("/?q=dental", &cookie)).await;
    assert!(
        page.contains(&format!("/offers/{dentist}\""))
            && !page.contains(&format!("/offers/{gloves}\""))
    );
    let (status, _, csv) = call(&app, get("/export/items.csv?item=exam_gloves", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(r#""exam_gloves","3","box""#), "{csv}");
    let (status, _, page) = call(&app, get("/dashboard", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg") && page.contains("n95_respirator"));
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

/// Sends `request` over a new connection to the running site and returns
/// everything it answers until it closes the connection (at most 60 s).
async fn raw_http(app: &TestApp, request: &str) -> String {
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
            &format!("csrf={csrf}&item=masks&quantity=1&unit={}", &huge[..40]),
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
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

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
        .upsert_user("triager@city.example", &hash, "triager")
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

// ---------------------------------------------------------------- the browser

/// chromedriver on a free loopback port and a WebDriver session with a
/// headless Chromium in a fresh profile. Both end when this is dropped.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        // Its own process group, so that dropping the Browser ends chromedriver
        // and the Chromium it started even when a test fails half-way.
        let driver = Command::new(&program)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} (Debian chromium-driver): {e}"));
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        _profile: profile,
                    }
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session: {last:?}");
    }

    async fn login(&self, app: &TestApp, email: &str) {
        let c = &self.client;
        c.goto(&app.url("/")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/login"));
        self.submit_login(email).await;
        c.wait()
            .for_element(Locator::Css("tr.offer-row"))
            .await
            .unwrap();
    }

    /// The address once the browser has left the login page (at most 30 s).
    async fn url_after_login(&self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let url = self.client.current_url().await.unwrap();
            if url.path() != "/login" {
                return url.to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still on the login page: {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `old`, an element of the page a form was sent from, is
    /// gone: the answer has loaded (at most 30 s). Waiting for an element
    /// the old page also has would return before the form was handled.
    async fn wait_for_next_page(&self, old: &fantoccini::elements::Element) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while old.attr("id").await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page did not change after sending the form"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fills in the login form on the current page and sends it.
    async fn submit_login(&self, email: &str) {
        let c = &self.client;
        c.find(Locator::Id("email"))
            .await
            .unwrap()
            .send_keys(email)
            .await
            .unwrap();
        c.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Id("login"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group this test started: chromedriver and its Chromium.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

#[tokio::test]
async fn browser_login_correct_accept_and_the_pickup_email_goes_out() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    let b = Browser::start().await;
    b.login(&app, "triager@city.example").await;
    b.screenshot("queue.png").await;
    let c = &b.client;
    // The top offer is the N95 one; Enter opens the row the keyboard is on.
    let first = c.find(Locator::Css("tr.offer-row")).await.unwrap();
    assert_eq!(
        first.attr("data-href").await.unwrap().unwrap(),
        format!("/offers/{dentist}")
    );
    let body = c.find(Locator::Css("body")).await.unwrap();
    body.send_keys("j").await.unwrap();
    let current = c.find(Locator::Css("tr.current")).await.unwrap();
    assert_ne!(
        current.attr("data-href").await.unwrap().unwrap(),
        format!("/offers/{dentist}")
    );
    body.send_keys("k").await.unwrap();
    let current = c.find(Locator::Css("tr.current")).await.unwrap();
    assert_eq!(
        current.attr("data-href").await.unwrap().unwrap(),
        format!("/offers/{dentist}")
    );
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("qty-1")).await.unwrap();
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with(&format!("/offers/{dentist}")));
    let marks = c
        .find_all(Locator::Css("pre.mail mark.span"))
        .await
        .unwrap();
    assert_eq!(marks.len(), 4, "each item's evidence is highlighted");
    b.screenshot("offer.png").await;

    let qty = c.find(Locator::Id("qty-1")).await.unwrap();
    qty.clear().await.unwrap();
    qty.send_keys("1500").await.unwrap();
    c.find(Locator::Css("form.item-row button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for_next_page(&qty).await;
    c.wait().for_element(Locator::Id("qty-1")).await.unwrap();
    let items = app.store.items_full(dentist).await.unwrap();
    assert_eq!(items[0].quantity, Some(1500.0));
    assert_eq!(items[0].source, "staff");

    c.execute(
        "document.getElementById('date').value = '2026-12-01';
         document.getElementById('from').value = '09:00';
         document.getElementById('to').value = '11:30';",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Id("preview"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("send")).await.unwrap();
    let preview = b.text().await;
    assert!(
        preview.contains("Pickup instructions for your donation SL-"),
        "{preview}"
    );
    assert!(
        preview.contains("Central depot") && preview.contains("09:00–11:30"),
        "{preview}"
    );
    assert!(preview.contains("1,500"), "{preview}");
    b.screenshot("preview.png").await;
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("p.decided"))
        .await
        .unwrap();
    assert!(b.text().await.contains("scheduled"));
    assert_eq!(
        app.store.offer(dentist).await.unwrap().offer.status,
        "scheduled"
    );
    c.goto(&app.url("/dashboard")).await.unwrap();
    b.screenshot("dashboard.png").await;
    b.close().await;

    let sent = app.send_all_to_mailbox("ana@dentist.example", 1).await;
    assert_eq!(sent.len(), 1, "one pickup email in the donor's mailbox");
    let eml = &sent[0];
    assert!(
        eml.contains("To: \"Ana Ruiz\" <ana@dentist.example>")
            || eml.contains("To: Ana Ruiz <ana@dentist.example>"),
        "{eml}"
    );
    assert!(
        eml.contains("Subject: Pickup instructions for your donation SL-"),
        "{eml}"
    );
    assert!(
        eml.contains("In-Reply-To: <dentist-1@dentist.example>"),
        "{eml}"
    );
    assert!(
        eml.contains("Central depot") && eml.contains("1,500"),
        "{eml}"
    );
    assert!(
        eml.contains("Content-Type: text/calendar") && eml.contains(".ics"),
        "the calendar invite is attached: {eml}"
    );
    let history = app.store.offer_history(dentist).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert!(
        actions.contains(&"item_changed")
            && actions.contains(&"accepted")
            && actions.contains(&"reply_sent"),
        "{actions:?}"
    );
}

const SCRIPT: &str = "<script>window.__pwned = 1</script>";
const IMG: &str = "\"><img src=x onerror=\"window.__pwned = 2\">";

#[tokio::test]
async fn a_deep_link_opened_signed_out_returns_there_after_login() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let b = Browser::start().await;
    let c = &b.client;
    let deep = format!("/offers/{dentist}");
    c.goto(&app.url(&deep)).await.unwrap();
    let at_login = c.current_url().await.unwrap();
    assert_eq!(
        (at_login.path(), at_login.query()),
        ("/login", Some(format!("next={deep}").as_str()))
    );
    b.submit_login("triager@city.example").await;
    assert_eq!(b.url_after_login().await, app.url(&deep));
    c.wait().for_element(Locator::Id("qty-1")).await.unwrap();
    assert!(b.text().await.contains("Donation: N95 masks and gowns"));

    // A filtered queue keeps its filter through login.
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/?postal=90210")).await.unwrap();
    b.submit_login("triager@city.example").await;
    assert_eq!(b.url_after_login().await, app.url("/?postal=90210"));
    c.wait()
        .for_element(Locator::Css("tr.offer-row"))
        .await
        .unwrap();
    let rows = c.find_all(Locator::Css("tr.offer-row")).await.unwrap();
    assert_eq!(rows.len(), 1, "only the 90210 offer is listed");
    assert_eq!(
        rows[0].attr("data-href").await.unwrap().unwrap(),
        format!("/offers/{gloves}")
    );
    b.close().await;
}

#[tokio::test]
async fn login_never_sends_the_browser_off_site() {
    let app = TestApp::start().await;
    seed_two(&app).await;
    let b = Browser::start().await;
    let c = &b.client;
    for next in [
        "https://evil.example/",
        "//evil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "/%252F%252Fevil.example",
    ] {
        c.delete_all_cookies().await.unwrap();
        c.goto(&app.url(&format!("/login?next={next}")))
            .await
            .unwrap();
        b.submit_login("triager@city.example").await;
        assert_eq!(
            b.url_after_login().await,
            app.url("/"),
            "login with next={next} lands on the queue"
        );
        c.wait()
            .for_element(Locator::Css("tr.offer-row"))
            .await
            .unwrap();
    }
    b.close().await;
}

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
    b.login(&app, "triager@city.example").await;
    let c = &b.client;
    for path in [
        "/".to_string(),
        format!("/offers/{id}"),
        "/?q=pwned&status=all".into(),
        "/dashboard".into(),
        "/messages/1".into(),
    ] {
        c.goto(&app.url(&path)).await.unwrap();
        let pwned = c
            .execute(
                "return typeof window.__pwned === 'undefined' ? null : window.__pwned;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(pwned, serde_json::Value::Null, "{path} ran hostile script");
        let imgs = c.find_all(Locator::Css("img")).await.unwrap();
        assert!(imgs.is_empty(), "{path} has an <img> from email");
        let scripts = c
            .execute(
                "return Array.from(document.scripts).map(s => s.src);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            scripts,
            serde_json::json!([app.url("/static/app.js")]),
            "{path}"
        );
        let handlers = c
            .execute(
                "return document.querySelectorAll('[onerror]').length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(handlers, serde_json::json!(0), "{path}");
    }
    c.goto(&app.url(&format!("/offers/{id}"))).await.unwrap();
    let text = b.text().await;
    assert!(text.contains(SCRIPT), "the payload shows as text: {text}");
    assert!(text.contains("<b>bold</b>"), "{text}");
    b.screenshot("hostile.png").await;
    let link = c.find(Locator::Css("ul.attachments a")).await.unwrap();
    assert!(link.text().await.unwrap().contains("<script>"));
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
async fn decline_spam_merge_and_received_are_recorded() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let third = app
        .seed(
            b"From: Cy <cy@vet.example>\nSubject: masks again\nMessage-ID: <c@vet.example>\n\n100 masks\n",
            offer("cy@vet.example", "Cy", "masks again", "90501", vec![item("surgical_mask", 100.0, "each", &[])]),
        )
        .await;
    let fourth = app
        .seed(
            b"From: Di <di@x.example>\nSubject: buy now\nMessage-ID: <d@x.example>\n\ncheap\n",
            offer("di@x.example", "Di", "buy now", "", vec![]),
        )
        .await;
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let form = format!("csrf={csrf}&reason=We+only+take+unopened+boxes&notify=1");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{gloves}/decline"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = call(
        &app,
        post(
            "/bulk",
            &cookie,
            &format!("csrf={csrf}&ids={fourth}&action=spam"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, location, _) = call(
        &app,
        post(
            &format!("/offers/{third}/merge"),
            &cookie,
            &format!("csrf={csrf}&into=SL-{dentist:06}"),
        ),
    )
    .await;
    assert_eq!(
        (status, location),
        (StatusCode::SEE_OTHER, format!("/offers/{dentist}"))
    );
    // A closed offer refuses further decisions.
    let (status, _, page) = call(
        &app,
        post(
            &format!("/offers/{fourth}/decline"),
            &cookie,
            &format!("csrf={csrf}&reason=x"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("is spam"), "{page}");
    let statuses = [gloves, third, fourth].map(|id| {
        let store = app.store.clone();
        async move { store.offer(id).await.unwrap().offer.status }
    });
    let mut got = Vec::new();
    for s in statuses {
        got.push(s.await);
    }
    assert_eq!(got, ["declined", "merged", "spam"]);
    assert_eq!(
        app.store.offer(dentist).await.unwrap().messages.len(),
        2,
        "the duplicate's message joined"
    );
    let sent = app.send_all().await;
    assert_eq!(sent.len(), 1, "only the decline was emailed");
    assert!(
        sent[0].contains("We only take unopened boxes")
            && sent[0].contains("To: Bo <bo@salon.example>"),
        "{}",
        sent[0]
    );

    // Received: accepted offers record what arrived, and the dashboard shows it.
    let items = app.store.items_full(dentist).await.unwrap();
    let form = format!("csrf={csrf}&date=2026-12-01&from=09:00&to=10:00&site=Harbor+clinic");
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/accept"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let form = format!(
        "csrf={csrf}&item_id={}&received=1800&item_id={}&received=40",
        items[0].id, items[1].id
    );
    let (status, _, _) = call(
        &app,
        post(&format!("/offers/{dentist}/received"), &cookie, &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let replies = app.store.offer(dentist).await.unwrap().replies;
    assert!(
        replies.iter().any(|r| r.kind == "thanks"),
        "a thank-you is queued on receipt: {replies:?}"
    );
    let stats = app.store.item_stats().await.unwrap();
    let n95 = stats.iter().find(|s| s.item == "n95_respirator").unwrap();
    assert_eq!(
        (n95.pledged, n95.accepted, n95.received, n95.target),
        (2000.0, 2000.0, 1800.0, Some(50000.0))
    );
    let (_, _, page) = call(&app, get(&format!("/offers/{dentist}"), &cookie)).await;
    assert!(
        page.contains("received 1800") && page.contains("Harbor clinic"),
        "{page}"
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

#[tokio::test]
async fn failed_messages_are_listed_and_retried_by_an_admin() {
    let app = TestApp::start().await;
    let StoreOutcome::Stored(id) = app
        .store
        .store_local("INBOX", b"Subject: broken <x>\n\n\xff\xfe")
        .await
        .unwrap()
    else {
        panic!()
    };
    app.store.claim_received().await.unwrap();
    app.store
        .fail_message(id, "the message could not be parsed as MIME")
        .await
        .unwrap();
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    let (_, _, page) = call(&app, get("/failed", &cookie)).await;
    assert!(
        page.contains("could not be parsed") && !page.contains("/retry"),
        "{page}"
    );
    let (status, _, _) = call(
        &app,
        post(
            &format!("/failed/{id}/retry"),
            &cookie,
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let hash = web::auth::hash_password(PASSWORD).unwrap();
    app.store
        .upsert_user("admin@city.example", &hash, "admin")
        .await
        .unwrap();
    let (cookie, csrf) = login_http(&app, "admin@city.example").await;
    let (status, _, _) = call(
        &app,
        post(
            &format!("/failed/{id}/retry"),
            &cookie,
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store
            .list_messages(Some("received"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
