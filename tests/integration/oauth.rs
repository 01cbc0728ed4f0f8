//! OAuth2 against the real stack (#12): Dovecot's `oauth2` passdb asks the
//! test's own provider (tests/common/oauth.rs) whether each token is valid,
//! for IMAP and for its submission service, which relays to OpenSMTPD.
//! Token requests go to the same provider's token endpoint.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use supplyline::config::Config;
use supplyline::daemon::Stages;
use supplyline::fetch::Fetcher;
use supplyline::oauth::login::write_refresh_token;
use supplyline::oauth::{OAuthError, TokenSource};
use tokio::sync::Notify;

use crate::app::{donation, eventually, unique_id, App};
use crate::common::{
    append, mail_stack, oauth_provider, stack_shared, unique_address, wait_for_count, TestClient,
};

const WAIT: Duration = Duration::from_secs(30);

/// Mail waiting before serve first reads the mailbox is acknowledged too
/// (as in the App's config; see tests/integration/first_start.rs).
const ACK_ALL: &str = "acknowledge_since = \"2000-01-01T00:00:00Z\"\n";

/// `[imap]` logging in to `user`'s mailbox with a token and `mechanism`.
fn imap_oauth(user: &str, mechanism: &str) -> String {
    format!(
        "[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nallow_insecure = true\n\
         username = \"{user}\"\nauth = \"oauth2\"\noauth2_mechanism = \"{mechanism}\"\ntimeout_secs = 20\n{ACK_ALL}",
        mail_stack().imap_port
    )
}

/// `[imap]` logging in with the stack's password.
fn imap_password(user: &str) -> String {
    format!(
        "[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nallow_insecure = true\n\
         username = \"{user}\"\npassword = \"{}\"\ntimeout_secs = 20\n{ACK_ALL}",
        mail_stack().imap_port,
        mail_stack().password
    )
}

/// `[smtp]` through Dovecot's submission service, with a token.
fn submission_oauth(user: &str, mechanism: &str) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nallow_insecure = true\n\
         username = \"{user}\"\nauth = \"oauth2\"\noauth2_mechanism = \"{mechanism}\"\ntimeout_secs = 10\n",
        mail_stack().submission_port
    )
}

/// An app (database, donations mailbox) with nothing configured yet, and
/// an application at the provider whose tokens log in to its mailbox.
async fn oauth_app() -> (App, TestClient) {
    let app = App::prepare("").await;
    let client = oauth_provider().client(&app.donations);
    (app, client)
}

/// Writes the app's config: these sections, the database and donations.
fn configure(app: &App, sections: &str) {
    let config = format!(
        "[database]\nurl = \"{}\"\n{sections}\n[donations]\naddress = \"{}\"\nname = \"Test Donations Desk\"\n\
         [outbox]\nretry_base_secs = 1\nretry_max_secs = 2\n",
        app.db_url, app.donations
    );
    std::fs::write(app.config_path(), config).unwrap();
}

/// A refresh token of `client`'s in the app's folder, as `oauth login` leaves it.
fn refresh_token_file(app: &App, client: &TestClient) -> PathBuf {
    let path = app.path("refresh-token");
    write_refresh_token(&path, &client.refresh_token()).unwrap();
    path
}

fn refresh_key(path: &std::path::Path) -> String {
    format!("refresh_token_file = \"{}\"", path.display())
}

fn load(app: &App) -> Config {
    Config::load(&app.config_path(), true).unwrap()
}

fn fetcher(app: &App, config: &mut Config) -> Fetcher {
    let imap = config.imap.take().unwrap();
    Fetcher::new(app.store.clone(), imap, Arc::new(Notify::new())).unwrap()
}

fn tokens(config: &Config) -> Arc<TokenSource> {
    let imap = config.imap.as_ref().and_then(|i| i.tokens.clone());
    let smtp = config.smtp.as_ref().and_then(|s| s.tokens.clone());
    imap.or(smtp).expect("a connection with auth = \"oauth2\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_logs_in_with_xoauth2_and_oauthbearer_and_stores_the_mail() {
    let _up = stack_shared().await;
    for mechanism in ["xoauth2", "oauthbearer"] {
        let (app, client) = oauth_app().await;
        let file = refresh_token_file(&app, &client);
        let imap = imap_oauth(&app.donations, mechanism);
        configure(
            &app,
            &format!("{imap}{}", client.section(&refresh_key(&file))),
        );
        let donor = unique_address("donor");
        let raw = donation(
            &donor,
            &app.donations,
            &unique_id(),
            "We have 10 boxes of masks.",
        );
        append(&app.donations, "INBOX", &raw).await;
        let mut config = load(&app);
        let fetcher = fetcher(&app, &mut config);
        let mut session = fetcher
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e:#}\n{}", mail_stack().dovecot_log(10)));
        let report = fetcher.fetch_new(&mut session).await.unwrap();
        assert_eq!(report.stored, 1, "{mechanism}");
        assert_eq!(client.requests("refresh_token"), 1, "{mechanism}");
        let log = mail_stack().dovecot_log(400);
        let method = format!(
            "user=<{}>, method={}",
            app.donations,
            mechanism.to_uppercase()
        );
        assert!(log.contains(&method), "{method} not in the Dovecot log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_is_renewed_before_it_expires() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    client.set_lifetime(2);
    let file = refresh_token_file(&app, &client);
    let imap = imap_oauth(&app.donations, "xoauth2");
    configure(
        &app,
        &format!("{imap}{}", client.section(&refresh_key(&file))),
    );
    let mut config = load(&app);
    let fetcher = fetcher(&app, &mut config);
    fetcher.connect().await.unwrap();
    fetcher.connect().await.unwrap();
    assert_eq!(
        client.requests("refresh_token"),
        1,
        "the first token serves both logins"
    );
    // Past its life (2 s; renewed after 1.8 s), the provider no longer
    // takes the first token: the next login works only with a new one.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    fetcher.connect().await.unwrap();
    assert_eq!(client.requests("refresh_token"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_access_token_is_replaced_and_the_login_retried() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let imap = imap_oauth(&app.donations, "oauthbearer");
    configure(
        &app,
        &format!("{imap}{}", client.section(&refresh_key(&file))),
    );
    let mut config = load(&app);
    let fetcher = fetcher(&app, &mut config);
    fetcher.connect().await.unwrap();
    // Revoked at the provider an hour before its expiry: Dovecot refuses it.
    client.revoke_access_tokens();
    fetcher.connect().await.unwrap();
    assert_eq!(client.requests("refresh_token"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_written_back_0600_and_used_next() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    client.set_rotate(true);
    client.set_lifetime(1);
    let file = refresh_token_file(&app, &client);
    let first = std::fs::read_to_string(&file).unwrap();
    let imap = imap_oauth(&app.donations, "xoauth2");
    configure(
        &app,
        &format!("{imap}{}", client.section(&refresh_key(&file))),
    );
    let mut config = load(&app);
    let fetcher = fetcher(&app, &mut config);
    fetcher.connect().await.unwrap();
    let second = std::fs::read_to_string(&file).unwrap();
    assert_ne!(
        first, second,
        "the provider's new refresh token replaced the old"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The old one is gone at the provider; the next renewal uses the new.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fetcher.connect().await.unwrap();
    assert_eq!(client.requests("refresh_token"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_log_in_app_only_and_a_wrong_secret_is_named() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let secret_file = app.path("client-secret");
    write_refresh_token(&secret_file, &client.secret).unwrap();
    let imap = imap_oauth(&app.donations, "xoauth2");
    let oauth = client.section(&format!(
        "grant = \"client_credentials\"\nclient_secret_file = \"{}\"",
        secret_file.display()
    ));
    configure(&app, &format!("{imap}{oauth}"));
    let mut config = load(&app);
    let fetcher = fetcher(&app, &mut config);
    fetcher.connect().await.unwrap();
    assert_eq!(client.requests("client_credentials"), 1);

    write_refresh_token(&secret_file, "not-the-secret").unwrap();
    let config = load(&app);
    let err = tokens(&config).access_token().await.unwrap_err();
    let text = supplyline::error_text::error_text(&err);
    assert!(
        text.contains(
            "refused the client credentials request (invalid_client: wrong client secret)"
        ) && text.contains("/token"),
        "{text}"
    );
    assert!(!text.contains("not-the-secret"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_is_a_clear_error_with_backoff_not_a_request_per_login() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let imap = imap_oauth(&app.donations, "xoauth2");
    configure(
        &app,
        &format!("{imap}{}", client.section(&refresh_key(&file))),
    );
    client.revoke_refresh_tokens();
    let mut config = load(&app);
    let source = tokens(&config);
    let err = source.access_token().await.unwrap_err();
    assert!(err.needs_login(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&file.display().to_string())
            && text.contains("invalid_grant")
            && text.contains("run `supplyline oauth login` again"),
        "{text}"
    );
    // The fetch stage's reconnects meanwhile: no request until the backoff ends.
    let fetcher = fetcher(&app, &mut config);
    for _ in 0..3 {
        let err = fetcher.connect().await.unwrap_err();
        let text = supplyline::error_text::error_text(&err);
        assert!(
            text.contains("run `supplyline oauth login` again"),
            "{text}"
        );
        assert!(matches!(
            source.access_token().await,
            Err(OAuthError::Waiting { .. })
        ));
    }
    assert_eq!(client.requests("refresh_token"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_running_on_a_revoked_refresh_token_and_resumes_after_a_new_login() {
    let _up = stack_shared().await;
    let (mut app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let imap = imap_oauth(&app.donations, "xoauth2");
    let smtp = crate::app::plain_smtp_section();
    configure(
        &app,
        &format!("{imap}{smtp}{}", client.section(&refresh_key(&file))),
    );
    client.revoke_refresh_tokens();
    let donor = unique_address("donor");
    let raw = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "Offering 200 face shields.",
    );
    append(&app.donations, "INBOX", &raw).await;
    app.restart().await;
    eventually(WAIT, "a refused refresh", || async {
        client.requests("refresh_token") >= 1
    })
    .await;
    assert!(app.serving(), "serve stopped on a revoked refresh token");
    // The operator signs in again (`supplyline oauth login` writes the file).
    write_refresh_token(&file, &client.refresh_token()).unwrap();
    app.wait_processed(1).await;
    wait_for_count(&donor, "INBOX", 1, WAIT).await;
    assert!(app.serving());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_out_through_submission_with_xoauth2_and_reach_the_donor() {
    let _up = stack_shared().await;
    let (mut app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let imap = imap_oauth(&app.donations, "oauthbearer");
    let smtp = submission_oauth(&app.donations, "xoauth2");
    configure(
        &app,
        &format!("{imap}{smtp}{}", client.section(&refresh_key(&file))),
    );
    let donor = unique_address("donor");
    let id = unique_id();
    let raw = donation(&donor, &app.donations, &id, "We can give 50 gowns.");
    append(&app.donations, "INBOX", &raw).await;
    app.restart().await;
    let reply = wait_for_count(&donor, "INBOX", 1, WAIT).await.remove(0);
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains(&id), "the acknowledgement answers the offer");
    app.stop().await;
    // IMAP and SMTP shared one access token.
    assert_eq!(client.requests("refresh_token"), 1);
    let log = mail_stack().dovecot_log(400);
    let submission = format!(
        "submission-login: Info: Login: user=<{}>, method=XOAUTH2",
        app.donations
    );
    assert!(
        log.contains(&submission),
        "no XOAUTH2 submission login in the Dovecot log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_oauthbearer_replaces_a_refused_token_and_sends() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let imap = imap_password(&app.donations);
    let smtp = submission_oauth(&app.donations, "oauthbearer");
    configure(
        &app,
        &format!("{imap}{smtp}{}", client.section(&refresh_key(&file))),
    );
    let mut config = load(&app);
    let fetcher = fetcher(&app, &mut config);
    let mut donors = Vec::new();
    for round in 0..2 {
        let donor = unique_address("donor");
        let raw = donation(
            &donor,
            &app.donations,
            &unique_id(),
            "Offering 20 thermometers.",
        );
        append(&app.donations, "INBOX", &raw).await;
        let mut session = fetcher.connect().await.unwrap();
        fetcher.fetch_new(&mut session).await.unwrap();
        // New stages, so a new SMTP session logs in; same token source.
        let stages = Stages::build(&config, app.store.clone()).await.unwrap();
        stages.process_all().await.unwrap();
        let sent = stages.send_all().await.unwrap();
        assert_eq!(sent.len(), 1, "round {round}: {sent:?}");
        assert_eq!(
            sent[0],
            supplyline::outbox::SendOutcome::Sent,
            "round {round}"
        );
        donors.push(donor);
        // Revoked before the next round's login.
        client.revoke_access_tokens();
    }
    assert_eq!(client.requests("refresh_token"), 2);
    for donor in donors {
        wait_for_count(&donor, "INBOX", 1, WAIT).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_login_runs_the_device_code_flow_and_stores_the_refresh_token_0600() {
    use std::io::BufRead;
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = app.path("refresh-token");
    let imap = imap_oauth(&app.donations, "xoauth2");
    configure(
        &app,
        &format!("{imap}{}", client.section(&refresh_key(&file))),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(app.config_path())
        .args(["oauth", "login"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        (first, lines)
    });
    let (first, lines) = tokio::time::timeout(WAIT, output).await.unwrap().unwrap();
    assert!(
        first.contains("open https://login.example.test/device"),
        "{first}"
    );
    let code = first.rsplit(' ').next().unwrap().to_string();
    // The user signs in while the command polls and hears "pending".
    eventually(WAIT, "a first poll", || async {
        client.requests("device_code") >= 1
    })
    .await;
    client.approve(&code);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("Signed in")), "{rest:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        client.requests("device_code"),
        2,
        "pending once, then approved"
    );
    // The stored token works for the mailbox.
    let mut config = load(&app);
    fetcher(&app, &mut config).connect().await.unwrap();
    assert_eq!(client.requests("refresh_token"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_login_browser_signs_in_with_pkce_through_a_loopback_redirect() {
    use std::io::BufRead;
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = app.path("refresh-token");
    let imap = imap_oauth(&app.donations, "xoauth2");
    configure(
        &app,
        &format!("{imap}{}", client.section(&refresh_key(&file))),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(app.config_path())
        .args(["oauth", "login", "--browser", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reading = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.starts_with("http"))
            .expect("a sign-in address");
        (url, lines)
    });
    let (url, lines) = tokio::time::timeout(WAIT, reading).await.unwrap().unwrap();
    let url = oauth2::url::Url::parse(&url).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], client.id);
    assert_eq!(query["code_challenge_method"], "S256");
    let redirect = &query["redirect_uri"];
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    // Something else knocking on the port does not end the sign-in.
    let stray = browser_get(&format!("{redirect}?code=forged&state=guess")).await;
    assert!(stray.starts_with("HTTP/1.1 404"), "{stray}");
    // The user signs in; the browser comes back with the code.
    let code = client.authorization_code(&query["code_challenge"], redirect);
    let back = browser_get(&format!("{redirect}?code={code}&state={}", query["state"])).await;
    assert!(back.contains("signed in"), "{back}");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{rest:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut config = load(&app);
    fetcher(&app, &mut config).connect().await.unwrap();
    assert_eq!(client.requests("authorization_code"), 1);
}

/// A browser's GET of `url` (http on loopback): the whole answer.
async fn browser_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = oauth2::url::Url::parse(url).unwrap();
    let port = url.port().unwrap();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let target = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_the_client_secret_never_reach_the_log_even_at_trace() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let secret_file = app.path("client-secret");
    write_refresh_token(&secret_file, &client.secret).unwrap();
    let imap = imap_oauth(&app.donations, "oauthbearer");
    let smtp = submission_oauth(&app.donations, "xoauth2");
    let oauth = client.section(&format!(
        "{}\nclient_secret_file = \"{}\"",
        refresh_key(&file),
        secret_file.display()
    ));
    configure(&app, &format!("{imap}{smtp}{oauth}"));
    // Access tokens live a second: several renewals during the run.
    client.set_lifetime(1);
    let donor = unique_address("donor");
    let raw = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "Offering 30 face shields.",
    );
    append(&app.donations, "INBOX", &raw).await;
    let log = app.path("serve.log");
    let mut child = app.spawn_process_with_env(&log, &[("RUST_LOG", "trace".as_ref())]);
    wait_for_count(&donor, "INBOX", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    crate::app::terminate(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("OAuth2 access token obtained"),
        "the log says tokens were had"
    );
    let issued = client.issued();
    assert!(issued.len() >= 2, "{issued:?}");
    for token in issued.iter().chain([&client.secret]) {
        assert!(
            !text.contains(token.as_str()),
            "a token or the client secret is in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_and_oauth_check_tell_whether_a_token_can_be_had() {
    let _up = stack_shared().await;
    let (app, client) = oauth_app().await;
    let file = refresh_token_file(&app, &client);
    let imap = imap_oauth(&app.donations, "xoauth2");
    // doctor checks SMTP too, as serve needs it.
    let smtp = crate::app::plain_smtp_section();
    configure(
        &app,
        &format!("{imap}{smtp}{}", client.section(&refresh_key(&file))),
    );
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
            .arg("--config")
            .arg(app.config_path())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run(&["oauth", "check"]);
    assert!(ok, "{text}");
    let (ok, text) = run(&["doctor"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok    an OAuth2 access token can be had"),
        "{text}"
    );

    client.revoke_refresh_tokens();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = run(&["doctor"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAIL  an OAuth2 access token can be had")
            && text.contains("run `supplyline oauth login` again"),
        "{text}"
    );
    let named = format!("{} is 0644: chmod go-rwx it", file.display());
    assert!(text.contains(&named), "{text}");
    let (ok, text) = run(&["oauth", "check"]);
    assert!(!ok && text.contains("invalid_grant"), "{text}");
}
