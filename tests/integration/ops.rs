//! Running it like a service (#12): `/healthz`, `/readyz` and `/metrics`
//! on the real stack, read over HTTP as a process manager and Prometheus
//! would, without a session.

use std::time::Duration;

use crate::app::{donation, unique_id, App};
use crate::common::{append, mail_stack, stack_shared, unique_address, CutProxy};

/// A loopback port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on `127.0.0.1:port`: the status code and the body (empty
/// status 0 when nothing answers).
pub async fn get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 30 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// The value of the sample `name` (with its labels, as written) in a
/// scrape; 0 when absent.
pub fn sample(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or(0.0)
}

/// Polls `GET path` until `done(status, body)` or 30 s pass.
async fn poll(port: u16, path: &str, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(port, path).await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never as expected; last answer {status}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const COUNTERS: &[&str] = &[
    "supplyline_messages_stored_total",
    "supplyline_messages_processed_total",
    "supplyline_replies_total{outcome=\"sent\"}",
    "supplyline_send_duration_seconds_count",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_through_a_backlog_and_readyz_fails_when_imap_is_down() {
    let _up = stack_shared().await;
    let proxy = CutProxy::start(mail_stack().imap_port).await;
    let (metrics, web) = (free_port(), free_port());
    let extra = format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n[web]\nlisten = \"127.0.0.1:{web}\"\n"
    );
    let mut app = App::prepare_via(proxy.port(), &extra).await;
    app.restart().await;

    // Before any work: the process answers, the counters are at zero.
    let (status, body) = poll(metrics, "/healthz", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (_, first) = poll(metrics, "/metrics", |s, _| s == 200).await;
    for name in COUNTERS {
        assert_eq!(sample(&first, name), 0.0, "{name} at start:\n{first}");
    }

    // A backlog of 30 offers, scraped while it drains.
    const N: usize = 30;
    for _ in 0..N {
        let donor = unique_address("metrics-donor");
        let raw = donation(
            &donor,
            &app.donations,
            &unique_id(),
            "We have 500 N95 masks.",
        );
        append(&app.donations, "INBOX", &raw).await;
    }
    let (_, last) = poll(metrics, "/metrics", |status, scrape| {
        assert_eq!(status, 200);
        for name in COUNTERS {
            assert!(
                sample(scrape, name) >= sample(&first, name),
                "{name} went below its start"
            );
        }
        sample(scrape, "supplyline_replies_total{outcome=\"sent\"}") >= N as f64
    })
    .await;
    for name in COUNTERS {
        assert_eq!(sample(&last, name), N as f64, "{name}:\n{last}");
    }
    assert_eq!(
        sample(&last, "supplyline_messages_by_state{state=\"processed\"}"),
        N as f64
    );
    assert_eq!(
        sample(&last, "supplyline_replies_by_state{state=\"sent\"}"),
        N as f64
    );
    assert_eq!(
        sample(&last, "supplyline_oldest_waiting_reply_age_seconds"),
        0.0
    );
    assert!(sample(&last, "supplyline_imap_last_pass_timestamp_seconds") > 1.0e9);
    assert!(
        last.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );

    // Ready: the database takes a write, IMAP passes, SMTP answered.
    let (status, body) = get(metrics, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    // The site's listener answers the same routes without a session, and
    // its pages are timed by route.
    assert_eq!(get(web, "/healthz").await.0, 200);
    assert_eq!(get(web, "/readyz").await.0, 200);
    let (status, _) = get(web, "/login").await;
    assert_eq!(status, 200);
    let (_, scrape) = get(web, "/metrics").await;
    let login = "supplyline_web_request_duration_seconds_count{method=\"GET\",route=\"/login\"}";
    assert!(sample(&scrape, login) >= 1.0, "{scrape}");

    // IMAP goes away (the proxy in front of Dovecot closes): not ready,
    // with the reason, while the process still answers.
    drop(proxy);
    let (status, body) = poll(metrics, "/readyz", |s, _| s == 503).await;
    assert_eq!(status, 503);
    assert!(body.contains("IMAP connection failed"), "{body}");
    assert_eq!(get(metrics, "/healthz").await.0, 200);
    let (_, scrape) = get(metrics, "/metrics").await;
    assert!(sample(&scrape, "supplyline_imap_reconnects_total") >= 1.0);
    app.stop().await;
}
