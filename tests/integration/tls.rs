//! IMAP and SMTP over TLS: the test CA is trusted when configured, anything
//! else refused with an error that names the certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use supplyline::config::Config;
use supplyline::fetch::Fetcher;
use supplyline::state::ReplyState;
use supplyline::store::{OutboxSummary, Store};
use tokio::sync::Notify;

use crate::app::{donation, eventually, terminate, unique_id, App};
use crate::common::{
    append, fetch_all, mail_stack, stack_shared, unique_address, wait_for_count, Handshake,
    SmtpTlsProxy, TlsMode,
};

async fn fetcher(ca_file: &std::path::Path) -> Fetcher {
    fetcher_with(ca_file, "tls", mail_stack().imaps_port).await
}

async fn fetcher_with(ca_file: &std::path::Path, security: &str, port: u16) -> Fetcher {
    let stack = mail_stack();
    let user = unique_address("tls");
    let text = format!(
        "[imap]\nhost = \"localhost\"\nport = {port}\nsecurity = \"{security}\"\nca_file = \"{}\"\nusername = \"{user}\"\npassword = \"{}\"\ntimeout_secs = 10\n",
        ca_file.display(),
        stack.password
    );
    let config =
        Config::from_str_with_env(&text, std::path::Path::new("tls.toml"), std::iter::empty())
            .unwrap();
    // Only the connection is under test: any fresh database does.
    let url = if crate::app::on_postgres() {
        crate::common::fresh_database("tls").await
    } else {
        "sqlite::memory:".to_string()
    };
    let store = Store::open(&url).await.unwrap();
    Fetcher::new(store, config.imap.unwrap(), Arc::new(Notify::new())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaps_with_the_test_ca_logs_in() {
    let _up = stack_shared().await;
    let f = fetcher(&mail_stack().ca_file).await;
    let mut session = f.connect().await.expect("TLS login with the right CA");
    session.logout().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaps_with_a_wrong_ca_is_refused_clearly() {
    let _up = stack_shared().await;
    let f = fetcher(&mail_stack().wrong_ca_file).await;
    let err = match f.connect().await {
        Ok(_) => panic!("a wrong CA must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("TLS handshake with localhost failed"), "{err}");
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_the_test_ca_logs_in_and_a_wrong_ca_is_refused() {
    let _up = stack_shared().await;
    let stack = mail_stack();
    let good = fetcher_with(&stack.ca_file, "starttls", stack.imap_port).await;
    let mut session = good
        .connect()
        .await
        .expect("STARTTLS login with the right CA");
    session.logout().await.unwrap();
    let bad = fetcher_with(&stack.wrong_ca_file, "starttls", stack.imap_port).await;
    match bad.connect().await {
        Ok(_) => panic!("a wrong CA must be refused after STARTTLS"),
        Err(e) => assert!(
            e.to_string()
                .contains("TLS handshake with localhost failed"),
            "{e}"
        ),
    }
}

// ------------------------------------------------------------ SMTP over TLS
//
// OpenSMTPD on the stack speaks plaintext only (see `tests/common/tls_proxy.rs`);
// a TLS-terminating proxy with the stack's certificate stands in front of it.

const SMTP_WAIT: Duration = Duration::from_secs(30);

/// An `[smtp]` section for the proxy: `localhost`, the proxy's TLS mode,
/// `ca_file` when given, and `allow_insecure` left at its default.
fn smtp_through(proxy: &SmtpTlsProxy, ca_file: Option<&Path>) -> String {
    let ca_line = ca_file
        .map(|ca| format!("ca_file = \"{}\"\n", ca.display()))
        .unwrap_or_default();
    format!(
        "[smtp]\nhost = \"localhost\"\nport = {}\nsecurity = \"{}\"\n{ca_line}timeout_secs = 10\n",
        proxy.port,
        proxy.mode.security()
    )
}

/// A donation from a fresh donor into `app`'s mailbox; returns the donor.
async fn donate(app: &App) -> String {
    let donor = unique_address("donor");
    let raw = donation(
        &donor,
        &app.donations,
        &unique_id(),
        "We can give 300 N95 masks.",
    );
    append(&app.donations, "INBOX", &raw).await;
    donor
}

async fn an_acknowledgement_goes_out_over(mode: TlsMode) {
    let _up = stack_shared().await;
    let proxy = SmtpTlsProxy::start(mode).await;
    let smtp = smtp_through(&proxy, Some(&mail_stack().ca_file));
    let mut app = App::prepare_with_smtp(&smtp, "").await;
    app.restart().await;
    let donor = donate(&app).await;

    let acks = wait_for_count(&donor, "INBOX", 1, SMTP_WAIT).await;
    let ack = String::from_utf8_lossy(&acks[0]).replace("=\r\n", "");
    assert!(
        ack.contains("SL-000001"),
        "the acknowledgement arrived:\n{ack}"
    );
    assert!(ack.contains("300 N95 respirators"), "{ack}");
    // The mail can land before the outbox records the server's answer.
    let sent = vec![(ReplyState::Sent, 1)];
    eventually(SMTP_WAIT, "the outbox to record the reply sent", || async {
        app.store.reply_counts().await.unwrap() == sent
    })
    .await;
    assert_eq!(
        proxy.handshakes(),
        vec![Handshake::Completed],
        "it went through the TLS proxy, in one connection"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_goes_out_over_smtps_with_the_test_ca() {
    an_acknowledgement_goes_out_over(TlsMode::Implicit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_goes_out_over_starttls_with_the_test_ca() {
    an_acknowledgement_goes_out_over(TlsMode::Starttls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_trusts_a_ca_installed_in_the_system_roots() {
    let _up = stack_shared().await;
    let proxy = SmtpTlsProxy::start(TlsMode::Implicit).await;
    let app = App::prepare_with_smtp(&smtp_through(&proxy, None), "").await;
    // rustls-native-certs reads the system roots from SSL_CERT_FILE when set,
    // as an operator's `update-ca-certificates` bundle would be read.
    let system_roots = [("SSL_CERT_FILE", mail_stack().ca_file.as_os_str())];
    let mut serve = app.spawn_process_with_env(&app.path("serve.log"), &system_roots);
    let donor = donate(&app).await;

    let acks = wait_for_count(&donor, "INBOX", 1, SMTP_WAIT).await;
    assert!(String::from_utf8_lossy(&acks[0]).contains("SL-000001"));
    assert_eq!(proxy.handshakes(), vec![Handshake::Completed]);
    assert!(
        terminate(&mut serve).success(),
        "serve stops cleanly on SIGTERM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_not_given_up_when_the_server_does_not_offer_it() {
    let _up = stack_shared().await;
    // OpenSMTPD's port in the test stack offers no STARTTLS: a server (or a
    // man in the middle stripping it) that answers EHLO without it.
    let smtp = format!(
        "[smtp]\nhost = \"localhost\"\nport = {}\nsecurity = \"starttls\"\nca_file = \"{}\"\ntimeout_secs = 10\n",
        mail_stack().smtp_port,
        mail_stack().ca_file.display()
    );
    let mut app = App::prepare_with_smtp(&smtp, "").await;
    app.restart().await;
    let donor = donate(&app).await;

    let reply = first_failed_attempt(&app).await;
    let error = reply.last_error.clone().unwrap();
    assert!(
        reply.state == "pending" || reply.state == "sending",
        "kept for another attempt: {reply:?}"
    );
    println!("refused: {error}");
    assert!(
        error.contains("does not offer STARTTLS") && error.contains("nothing was sent"),
        "{error}"
    );
    assert!(
        fetch_all(&donor, "INBOX").await.is_empty(),
        "nothing was sent in clear text"
    );
    app.stop().await;
}

/// The reply's outbox row once the sender has tried at least once.
async fn first_failed_attempt(app: &App) -> OutboxSummary {
    let deadline = tokio::time::Instant::now() + SMTP_WAIT;
    loop {
        if let Some(offer) = app.store.list_offers(None, 1).await.unwrap().first() {
            let replies = app.store.offer(offer.id).await.unwrap().replies;
            if let Some(reply) = replies.into_iter().find(|r| r.last_error.is_some()) {
                return reply;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed attempt recorded within {SMTP_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `serve` (a child process, as operators run it) with `ca_file` sending
/// through a proxy in `mode`: the reply is held back and the certificate named.
async fn a_certificate_is_refused(mode: TlsMode, ca_file: Option<&Path>) {
    let _up = stack_shared().await;
    let proxy = SmtpTlsProxy::start(mode).await;
    let app = App::prepare_with_smtp(&smtp_through(&proxy, ca_file), "").await;
    let log_path = app.path("serve.log");
    let mut serve = app.spawn_process(&log_path);
    let donor = donate(&app).await;

    let reply = first_failed_attempt(&app).await;
    let error = reply.last_error.clone().unwrap();
    assert!(
        reply.state == "pending" || reply.state == "sending",
        "kept for another attempt: {reply:?}"
    );
    for words in [
        "TLS handshake with localhost:",
        "certificate was refused",
        "UnknownIssuer",
        "smtp.ca_file",
    ] {
        assert!(
            error.contains(words),
            "the outbox error names {words:?}: {error}"
        );
    }
    assert!(
        serve.try_wait().unwrap().is_none(),
        "serve is still running after the refusal"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("TLS to the SMTP server failed"))
        .unwrap_or_else(|| panic!("no log line names the TLS failure:\n{log}"));
    assert!(
        line.contains("WARN") && line.contains("UnknownIssuer"),
        "{line}"
    );
    assert!(
        !log.contains('\x1b'),
        "a log written to a file is plain text, without colour codes"
    );
    assert!(
        fetch_all(&donor, "INBOX").await.is_empty(),
        "nothing was delivered"
    );
    let handshakes = proxy.wait_for_handshakes(1).await;
    assert!(
        !handshakes.contains(&Handshake::Completed),
        "every handshake was abandoned by supplyline: {handshakes:?}"
    );
    assert!(
        terminate(&mut serve).success(),
        "serve stops cleanly on SIGTERM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_with_a_wrong_ca_is_refused_and_the_reply_waits() {
    a_certificate_is_refused(TlsMode::Implicit, Some(&mail_stack().wrong_ca_file)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_with_only_the_system_roots_is_refused() {
    a_certificate_is_refused(TlsMode::Implicit, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_wrong_ca_is_refused_and_the_reply_waits() {
    a_certificate_is_refused(TlsMode::Starttls, Some(&mail_stack().wrong_ca_file)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_refused_by_certificate_ends_failed_after_its_attempts() {
    let _up = stack_shared().await;
    let proxy = SmtpTlsProxy::start(TlsMode::Implicit).await;
    let smtp = smtp_through(&proxy, Some(&mail_stack().wrong_ca_file));
    // Appended into the test config's [outbox] section.
    let mut app = App::prepare_with_smtp(&smtp, "max_attempts = 2\n").await;
    app.restart().await;
    let donor = donate(&app).await;

    let deadline = tokio::time::Instant::now() + SMTP_WAIT;
    let reply = loop {
        let reply = first_failed_attempt(&app).await;
        // "pending" between attempts, "sending" during one.
        if reply.state != "pending" && reply.state != "sending" {
            break reply;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not given up: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let error = reply.last_error.clone().unwrap();
    assert_eq!(reply.state, "failed", "{reply:?}");
    assert!(
        error.starts_with("gave up after 2 attempts: TLS handshake with localhost:"),
        "{error}"
    );
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(
        fetch_all(&donor, "INBOX").await.is_empty(),
        "nothing was delivered"
    );
    let handshakes = proxy.wait_for_handshakes(2).await;
    assert!(
        handshakes.iter().all(|h| matches!(h, Handshake::Failed(_))),
        "{handshakes:?}"
    );
    app.stop().await;
}
