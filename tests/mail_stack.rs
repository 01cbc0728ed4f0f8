//! The test servers themselves. Mail: mail sent by SMTP reaches the
//! recipient's mailbox and reads back over IMAP, STARTTLS and IMAPS (verified
//! against the stack's CA, refused with the wrong one); outages can be
//! simulated. PostgreSQL: it starts, and fresh databases are separate.

mod common;

use std::time::{Duration, Instant};

use common::imap::{connect, login, tls_connect, Security};
use common::postgres::{fresh_database, postgres};
use common::{
    append, create_mailbox, dovecot_restart, fetch_all, mail_stack, send_raw, smtp_start,
    smtp_stop, stack_exclusive, stack_shared, unique_address, wait_for_count,
};
use futures::TryStreamExt;
use sqlx::{Connection, Executor, PgConnection, Row};

fn message(to: &str, token: &str) -> Vec<u8> {
    format!(
        "From: Donor <sender@example.org>\r\n\
         To: {to}\r\n\
         Subject: 200 N95 masks {token}\r\n\
         Message-ID: <{token}@example.org>\r\n\
         \r\n\
         We have 200 N95 masks, pickup in Torrance. {token}\r\n"
    )
    .into_bytes()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Fetch INBOX of the session's user, raw, in UID order.
async fn fetch_inbox(session: &mut common::imap::ImapSession) -> Vec<Vec<u8>> {
    session.select("INBOX").await.expect("SELECT INBOX");
    let fetches: Vec<_> = session
        .uid_fetch("1:*", "BODY.PEEK[]")
        .await
        .expect("UID FETCH")
        .try_collect()
        .await
        .expect("UID FETCH responses");
    fetches
        .iter()
        .map(|f| f.body().expect("body").to_vec())
        .collect()
}

#[tokio::test]
async fn smtp_delivery_reads_back_over_imap_starttls_and_imaps() {
    let _up = stack_shared().await;
    let donor = unique_address("donor");
    let token = unique_address("token").replace('@', "-at-");

    let sent = Instant::now();
    send_raw("sender@example.org", &[&donor], &message(&donor, &token)).await;
    let inbox = wait_for_count(&donor, "INBOX", 1, Duration::from_secs(20)).await;
    eprintln!("SMTP to IMAP delivery took {:?}", sent.elapsed());
    assert_eq!(inbox.len(), 1);
    assert!(
        contains(&inbox[0], &token),
        "token in the delivered message"
    );
    // Delivered over LMTP for the full address.
    assert!(contains(&inbox[0], &format!("Delivered-To: {donor}")));

    for security in [Security::StartTls, Security::Tls] {
        let mut session = login(&donor, security).await;
        let messages = fetch_inbox(&mut session).await;
        assert_eq!(messages, inbox, "same mail over {security:?}");
        session.logout().await.expect("LOGOUT");
    }
}

#[tokio::test]
async fn imaps_verifies_against_the_ca_and_refuses_the_wrong_one() {
    let stack = mail_stack();
    tls_connect(stack.imaps_port, &stack.ca_file)
        .await
        .expect("the stack's CA verifies IMAPS");

    let err = tls_connect(stack.imaps_port, &stack.wrong_ca_file)
        .await
        .expect_err("the wrong CA must not verify IMAPS");
    let rustls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {err:?}"));
    assert!(
        matches!(rustls_error, rustls::Error::InvalidCertificate(_)),
        "wrong CA refused as an invalid certificate, got {rustls_error:?}"
    );
}

#[tokio::test]
async fn any_user_one_password_and_mailbox_helpers() {
    let _up = stack_shared().await;
    let user = unique_address("donations");

    // A wrong password is refused.
    let client = connect(Security::Plain).await;
    assert!(client.login(&user, "not-the-password").await.is_err());

    // A mailbox that does not exist reads as empty; creating it twice is fine.
    assert!(fetch_all(&user, "Processed").await.is_empty());
    create_mailbox(&user, "Processed").await;
    create_mailbox(&user, "Processed").await;

    let first = message(&user, "first");
    let second = message(&user, "second");
    append(&user, "Processed", &first).await;
    append(&user, "Processed", &second).await;
    assert_eq!(fetch_all(&user, "Processed").await, vec![first, second]);
    assert!(fetch_all(&user, "INBOX").await.is_empty());

    // IDLE, MOVE and UIDPLUS, which the fetch stage relies on.
    let mut session = login(&user, Security::Plain).await;
    let caps = session.capabilities().await.expect("CAPABILITY");
    for cap in ["IDLE", "MOVE", "UIDPLUS"] {
        assert!(caps.has_str(cap), "Dovecot offers {cap}");
    }
    session.logout().await.expect("LOGOUT");
}

#[tokio::test]
async fn smtp_and_dovecot_outages() {
    let _outage = stack_exclusive().await;
    let donor = unique_address("donor");

    // SMTP down: connections are refused.
    smtp_stop();
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", mail_stack().smtp_port)).await;
    assert!(refused.is_err(), "SMTP port refuses while stopped");

    // SMTP back on the same port: mail flows again.
    let started = Instant::now();
    smtp_start();
    eprintln!("smtp_start took {:?}", started.elapsed());
    send_raw(
        "sender@example.org",
        &[&donor],
        &message(&donor, "after-smtp-start"),
    )
    .await;
    wait_for_count(&donor, "INBOX", 1, Duration::from_secs(20)).await;

    // Dovecot restart: open sessions break, mail stays, logins work again.
    let mut session = login(&donor, Security::Plain).await;
    let started = Instant::now();
    dovecot_restart();
    eprintln!("dovecot_restart took {:?}", started.elapsed());
    assert!(
        session.noop().await.is_err(),
        "a session opened before the restart is gone"
    );
    send_raw(
        "sender@example.org",
        &[&donor],
        &message(&donor, "after-restart"),
    )
    .await;
    let inbox = wait_for_count(&donor, "INBOX", 2, Duration::from_secs(20)).await;
    assert!(contains(&inbox[0], "after-smtp-start"));
    assert!(contains(&inbox[1], "after-restart"));
}

#[tokio::test]
async fn postgres_fresh_databases_are_separate() {
    let a = fresh_database("pg-stack-test").await;
    let b = fresh_database("pg-stack-test").await;
    assert_ne!(a, b);

    let mut conn = PgConnection::connect(&a).await.expect("connect to a");
    conn.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
        .await
        .expect("create and fill t");
    let row = sqlx::query("SELECT x FROM t")
        .fetch_one(&mut conn)
        .await
        .expect("select");
    assert_eq!(row.get::<i32, _>("x"), 42);

    let mut other = PgConnection::connect(&b).await.expect("connect to b");
    assert!(
        sqlx::query("SELECT x FROM t")
            .fetch_one(&mut other)
            .await
            .is_err(),
        "table t exists only in database a"
    );

    let mut main = PgConnection::connect(&postgres().database_url)
        .await
        .expect("connect to supplyline");
    main.execute("SELECT 1").await.expect("select 1");
}
