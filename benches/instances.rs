//! Several `serve` on one PostgreSQL (#13): how processing and sending
//! scale with 1, 2 and 3 instances, on the real mail stack.
//!
//! For each count, a fresh database holds N stored donations (4 KiB, one
//! donor address each); that many `supplyline serve` processes (this
//! build's binary) start on it with no `[imap]`, and the run is timed from
//! the first message processed to the last, and from the first reply
//! accepted by OpenSMTPD to the last, read from the database every 20 ms.
//! Each serve sends on `smtp.connections` (4) connections.
//!
//! `cargo bench --bench instances` runs N = 3,000; without `--bench` (as
//! `cargo test --all-targets` runs it) a smoke run of 30 checks that it
//! still works. Figures go to BENCHMARKS.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use supplyline::state::{MessageState, ReplyState};
use supplyline::store::{FetchedMessage, Store};

use common::{fresh_database, mail_stack, unique_address};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 3_000 } else { 30 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut single = None;
        for instances in 1..=3 {
            let (process, send) = run(n, instances).await;
            let (p1, s1) = *single.get_or_insert((process, send));
            println!(
                "instances: {instances} serve, {n} offers: processed {:.0}/s ({:.2} x one), \
                 sent {:.0}/s ({:.2} x one)",
                process,
                process / p1,
                send,
                send / s1
            );
        }
    });
}

/// Processing and sending rates (per second) of `instances` serve on a
/// fresh database of `n` stored donations.
async fn run(n: usize, instances: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database("bench_instances").await;
    let store = Store::open(&url).await.unwrap();
    let desk = unique_address("desk");
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        let batch = chunk.iter().map(|&i| donation(&desk, i)).collect();
        store.store_fetched(batch, None, None).await.unwrap();
    }
    let config = dir.path().join("supplyline.toml");
    std::fs::write(&config, config_text(&url, &desk)).unwrap();
    let serves: Vec<Child> = (0..instances)
        .map(|k| spawn(&config, &dir.path().join(format!("serve-{k}.log"))))
        .collect();
    let (mut first_processed, mut first_sent) = (None, None);
    let (mut last_processed, mut last_sent) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(600);
    while last_sent.is_none() {
        assert!(Instant::now() < deadline, "not drained in 10 minutes");
        let now = Instant::now();
        let p = state_count(
            store.message_counts().await.unwrap(),
            MessageState::Processed,
        );
        let s = state_count(store.reply_counts().await.unwrap(), ReplyState::Sent);
        mark(p, n, now, &mut first_processed, &mut last_processed);
        mark(s, n, now, &mut first_sent, &mut last_sent);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for mut serve in serves {
        let _ = Command::new("kill").arg(serve.id().to_string()).status();
        serve.wait().unwrap();
    }
    let rate = |first: Option<Instant>, last: Option<Instant>| {
        let took = last.unwrap() - first.unwrap();
        (n - 1) as f64 / took.as_secs_f64().max(1e-3)
    };
    store.close().await;
    (
        rate(first_processed, last_processed),
        rate(first_sent, last_sent),
    )
}

/// Notes when a count first moved and when it reached `n`.
fn mark(
    done: i64,
    n: usize,
    now: Instant,
    first: &mut Option<Instant>,
    last: &mut Option<Instant>,
) {
    if done > 0 && first.is_none() {
        *first = Some(now);
    }
    if done as usize >= n && last.is_none() {
        *last = Some(now);
    }
}

fn state_count<S: PartialEq>(counts: Vec<(S, i64)>, state: S) -> i64 {
    counts
        .into_iter()
        .find(|(s, _)| *s == state)
        .map_or(0, |(_, n)| n)
}

fn spawn(config: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn config_text(url: &str, desk: &str) -> String {
    let s = mail_stack();
    format!(
        "[database]\nurl = \"{url}\"\n\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nallow_insecure = true\n\
         connections = 4\n\n\
         [donations]\naddress = \"{desk}\"\nreply_window_secs = 0\n\
         replies_per_hour = 1000000\nreplies_per_domain_per_hour = 1000000\n",
        smtp = s.smtp_port,
    )
}

fn donation(desk: &str, i: usize) -> FetchedMessage {
    let donor = unique_address("donor");
    let mut body = format!(
        "Hello, we can donate {} N95 masks and 40 isolation gowns.\r\n",
        100 + i
    );
    while body.len() < 4096 {
        body.push_str(
            "Pickup weekdays 9-5 at our warehouse loading dock, ask for the manager.\r\n",
        );
    }
    let raw = format!(
        "From: Donor <{donor}>\r\nTo: {desk}\r\nSubject: Donation\r\nMessage-ID: <{:016x}@bench.example>\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        rand::random::<u64>()
    );
    FetchedMessage {
        mailbox: "INBOX".into(),
        uidvalidity: 1,
        uid: i as u32 + 1,
        size: raw.len() as u64,
        raw: raw.into_bytes(),
        truncated: false,
        no_reply_reason: None,
    }
}
