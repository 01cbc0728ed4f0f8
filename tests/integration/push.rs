//! The new-mail hook: Dovecot's push_notification plugin announces a
//! delivery to `POST /hooks/new-mail`, and the fetcher reads at once.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::{donation, unique_id, App};
use crate::common::{mail_stack, send_raw, stack_shared, unique_address, wait_for_count};

const WAIT: Duration = Duration::from_secs(30);

/// Asks Dovecot to announce `user`'s deliveries to the hook (the stack's
/// push driver calls 127.0.0.1:PUSH_PORT with the stack's HOOK_SECRET).
fn push_on(user: &str) {
    let stack = mail_stack();
    let status = std::process::Command::new("scripts/mail-stack")
        .arg("push-on")
        .arg(&stack.dir)
        .arg(user)
        .status()
        .expect("running scripts/mail-stack push-on");
    assert!(status.success(), "push-on {user} failed");
}

/// An app that never polls and never IDLEs: after its first pass only the
/// hook can make it read the mailbox again. Its web UI takes the push port.
async fn push_only_app(secret: &str) -> App {
    let port = &mail_stack().env["PUSH_PORT"];
    App::prepare_imap(
        "idle = false\npoll_interval_secs = 3600",
        &format!("[web]\nlisten = \"127.0.0.1:{port}\"\nnew_mail_hook_secret = \"{secret}\"\n"),
    )
    .await
}

/// The status code of an HTTP request to the hook on the push port.
async fn call_hook(authorization: Option<&str>) -> u16 {
    let port = &mail_stack().env["PUSH_PORT"];
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("the web UI listens on the push port");
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /hooks/new-mail HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

// One test: the push port can be bound by one app at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_pushed_by_dovecot_wakes_the_fetcher_and_strangers_are_refused() {
    let _up = stack_shared().await;
    let secret = mail_stack().env["HOOK_SECRET"].clone();
    let mut app = push_only_app(&secret).await;
    push_on(&app.donations);
    // A first offer waits in the mailbox: its acknowledgement shows the
    // first pass is over and the fetcher is waiting.
    let first = unique_address("first");
    let offer = donation(
        &first,
        &app.donations,
        &unique_id(),
        "We can give 40 isolation gowns.",
    );
    send_raw(&first, &[&app.donations], &offer).await;
    app.restart().await;
    wait_for_count(&first, "INBOX", 1, WAIT).await;

    assert_eq!(call_hook(None).await, 401, "no credentials");
    assert_eq!(call_hook(Some("Bearer wrong")).await, 401, "a wrong secret");

    // Delivered now, the second offer can only be read because Dovecot's
    // push called the hook: the fetcher polls hourly and does not IDLE.
    let second = unique_address("second");
    let offer = donation(
        &second,
        &app.donations,
        &unique_id(),
        "We have 300 N95 masks to donate.",
    );
    send_raw(&second, &[&app.donations], &offer).await;
    let received = wait_for_count(&second, "INBOX", 1, WAIT).await;
    assert_eq!(received.len(), 1, "the pushed offer was acknowledged once");
    app.stop().await;
}
