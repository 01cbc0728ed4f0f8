//! Several `serve` on one PostgreSQL (#13): they share processing and
//! sending, one fetches the mailbox at a time under a fencing token, and
//! none loses or repeats work when another is killed, frozen, or when
//! PostgreSQL itself goes away for a while. These run on PostgreSQL
//! whatever `TEST_DATABASE` says: several `serve` need it.

use std::process::Child;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use supplyline::state::ReplyState;

use crate::app::{db_number, donation, eventually, terminate, unique_id, App};
use crate::common::scripts::{path_str, run_script, start_stack};
use crate::common::{append, fetch_all, fresh_database, stack_shared, unique_address};
use crate::ops::{free_port, get};

/// Short fetch leases, so a takeover shows within seconds.
const IMAP_KEYS: &str = "takeover_secs = 3";

/// An app on a fresh PostgreSQL database of the test process's server.
async fn app_on_postgres(extra: &str) -> App {
    App::prepare_on(fresh_database("instances").await, IMAP_KEYS, extra).await
}

/// Appends one donation from each of `donors` to the app's mailbox.
async fn mail_from(app: &App, donors: &[String]) {
    for (i, donor) in donors.iter().enumerate() {
        let body = format!("We can donate {} N95 masks.", 100 + i);
        append(
            &app.donations,
            "INBOX",
            &donation(donor, &app.donations, &unique_id(), &body),
        )
        .await;
    }
}

async fn number(app: &App, sql: &str) -> i64 {
    db_number(&app.db_url, sql).await.unwrap()
}

async fn all_sent(app: &App, n: i64) -> bool {
    app.store.reply_counts().await.unwrap() == vec![(ReplyState::Sent, n)]
}

/// The PID of the serve fetching the mailbox now, if any holds it.
async fn fetching_pid(app: &App) -> Option<i64> {
    let holder = app.store.fetch_lease_holder("INBOX").await.unwrap();
    holder
        .filter(|(_, h)| h.expires_at > supplyline::store::now_ms())
        .map(|(_, h)| h.pid)
}

/// Every donor's acknowledgements: panics on a donor never answered;
/// returns how many were repeated.
async fn repeated_acknowledgements(donors: &[String]) -> usize {
    let mut repeated = 0;
    for donor in donors {
        let acks = fetch_all(donor, "INBOX").await.len();
        assert!(acks >= 1, "{donor} was never answered");
        repeated += acks - 1;
    }
    repeated
}

/// Each message stored once and made into one offer, once.
async fn each_stored_and_processed_once(app: &App, n: i64) {
    assert_eq!(number(app, "SELECT COUNT(*) FROM messages").await, n);
    let keys = "SELECT COUNT(DISTINCT dedup_key) FROM messages";
    assert_eq!(number(app, keys).await, n, "no message stored twice");
    assert_eq!(number(app, "SELECT COUNT(*) FROM offers").await, n);
    let created = "SELECT COUNT(*) FROM audit_events WHERE action = 'offer_created'";
    assert_eq!(number(app, created).await, n, "no message processed twice");
}

/// A `serve` child process and where its log stood when it started.
struct Serve {
    child: Child,
    log: std::path::PathBuf,
    from: u64,
}

impl Serve {
    fn start(app: &App, log: &std::path::Path) -> Serve {
        let from = std::fs::metadata(log).map_or(0, |m| m.len());
        Serve {
            child: app.spawn_process(log),
            log: log.to_path_buf(),
            from,
        }
    }

    /// The last lines this run logged.
    fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let ours = String::from_utf8_lossy(text.get(self.from as usize..).unwrap_or_default())
            .into_owned();
        let lines: Vec<&str> = ours.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// This run has said it is running.
    fn is_up(&self) -> bool {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let ours = text.get(self.from as usize..).unwrap_or_default();
        String::from_utf8_lossy(ours).contains("supplyline is running")
    }
}

fn sigkill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serves_drain_a_backlog_through_fifty_sigkills_and_answer_everyone() {
    const MESSAGES: usize = 1000;
    const KILLS: usize = 50;
    let _up = stack_shared().await;
    let app = app_on_postgres("").await;
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let donors: Vec<String> = (0..MESSAGES).map(|_| unique_address("donor")).collect();
    // Half waits in the mailbox; the rest arrives while serves are killed.
    mail_from(&app, &donors[..MESSAGES / 2]).await;
    let feeder = {
        let (app_donations, late) = (app.donations.clone(), donors[MESSAGES / 2..].to_vec());
        tokio::spawn(async move {
            for (i, donor) in late.iter().enumerate() {
                let body = format!("We can offer {} isolation gowns.", 10 + i);
                let raw = donation(donor, &app_donations, &unique_id(), &body);
                append(&app_donations, "INBOX", &raw).await;
            }
        })
    };
    let logs: Vec<_> = (0..3)
        .map(|n| app.path(&format!("serve-{n}.log")))
        .collect();
    let mut serves: Vec<Serve> = logs.iter().map(|log| Serve::start(&app, log)).collect();
    let mut kills = 0;
    while kills < KILLS {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..600))).await;
        // Only a serve that is up: one killed while it starts tests nothing.
        let up: Vec<usize> = (0..serves.len()).filter(|&n| serves[n].is_up()).collect();
        if up.is_empty() {
            continue;
        }
        let n = up[rng.gen_range(0..up.len())];
        sigkill(&mut serves[n].child);
        serves[n] = Serve::start(&app, &logs[n]);
        kills += 1;
    }
    feeder.await.unwrap();
    eventually(Duration::from_secs(240), "every reply sent", || {
        all_sent(&app, MESSAGES as i64)
    })
    .await;
    for serve in &mut serves {
        // The last one restarted may still be starting.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !serve.is_up() && serve.child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "a serve never came up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = terminate(&mut serve.child);
        assert!(
            status.success(),
            "a serve exits cleanly on SIGTERM ({status}):\n{}",
            serve.log_tail()
        );
    }

    each_stored_and_processed_once(&app, MESSAGES as i64).await;
    let repeated = repeated_acknowledgements(&donors).await;
    let takeovers = number(&app, "SELECT MAX(token) FROM fetch_leases").await;
    println!(
        "{KILLS} SIGKILLs of 3 serves, {MESSAGES} messages: {repeated} repeated acknowledgement(s), \
         {takeovers} fetch lease holds"
    );
    // Only a kill between the SMTP server's 250 and our commit repeats a
    // reply: at most two per send worker (4 by default) of the killed serve.
    assert!(
        repeated <= 2 * 4 * KILLS,
        "{repeated} repeats for {KILLS} kills"
    );
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.contains("a stage stopped"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetcher_frozen_past_its_lease_is_replaced_and_stores_nothing_when_it_wakes() {
    let _up = stack_shared().await;
    let app = app_on_postgres("").await;
    let (log_a, log_b) = (app.path("a.log"), app.path("b.log"));
    let mut a = app.spawn_process(&log_a);
    let a_pid = a.id() as i64;
    eventually(
        Duration::from_secs(30),
        "the first serve fetching",
        || async { fetching_pid(&app).await == Some(a_pid) },
    )
    .await;
    let mut b = app.spawn_process(&log_b);
    let b_pid = b.id() as i64;
    let before: Vec<String> = (0..10).map(|_| unique_address("donor")).collect();
    mail_from(&app, &before).await;
    eventually(Duration::from_secs(60), "the first mail answered", || {
        all_sent(&app, 10)
    })
    .await;

    signal(&a, "STOP");
    let during: Vec<String> = (0..10).map(|_| unique_address("donor")).collect();
    mail_from(&app, &during).await;
    eventually(
        Duration::from_secs(30),
        "the second serve fetching",
        || async { fetching_pid(&app).await == Some(b_pid) },
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "the mail sent meanwhile answered",
        || all_sent(&app, 20),
    )
    .await;
    let stored_by_a = "SELECT COUNT(*) FROM messages WHERE fetch_token = 1";
    assert_eq!(number(&app, stored_by_a).await, 10);

    signal(&a, "CONT");
    let after: Vec<String> = (0..10).map(|_| unique_address("donor")).collect();
    mail_from(&app, &after).await;
    eventually(
        Duration::from_secs(60),
        "the mail sent after answered",
        || all_sent(&app, 30),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the woken serve standing by",
        || async {
            std::fs::read_to_string(&log_a)
                .unwrap()
                .contains("another serve took over fetching this mailbox")
        },
    )
    .await;
    assert_eq!(
        number(&app, stored_by_a).await,
        10,
        "the frozen serve stored nothing once it woke"
    );
    assert_eq!(
        fetching_pid(&app).await,
        Some(b_pid),
        "the lease stays taken over"
    );
    assert!(terminate(&mut a).success());
    assert!(terminate(&mut b).success());

    each_stored_and_processed_once(&app, 30).await;
    let donors: Vec<String> = [before, during, after].concat();
    assert_eq!(repeated_acknowledgements(&donors).await, 0);
    let log = std::fs::read_to_string(&log_b).unwrap();
    assert!(log.contains("took over fetching this mailbox"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_run_loses_nothing_and_readyz_fails_meanwhile() {
    const MESSAGES: usize = 200;
    let _up = stack_shared().await;
    // A PostgreSQL of its own: the other tests share the process's server.
    let env = start_stack("pg-stack", "supplyline-pg-outage");
    let dir = env.get("PG_STACK_DIR");
    let metrics = free_port();
    let app = App::prepare_on(
        env.get("DATABASE_URL"),
        IMAP_KEYS,
        &format!("[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n"),
    )
    .await;
    let donors: Vec<String> = (0..MESSAGES).map(|_| unique_address("donor")).collect();
    mail_from(&app, &donors[..MESSAGES / 2]).await;
    let log = app.path("serve.log");
    let mut serve = app.spawn_process(&log);
    eventually(
        Duration::from_secs(60),
        "the first replies sent",
        || async { number(&app, "SELECT COUNT(*) FROM outbox WHERE state = 'sent'").await > 0 },
    )
    .await;

    run_script("pg-stack", &["pause", path_str(std::path::Path::new(&dir))]);
    let down = tokio::time::Instant::now();
    mail_from(&app, &donors[MESSAGES / 2..]).await;
    let mut ready_failed = None;
    while down.elapsed() < Duration::from_secs(40) {
        let (status, body) = get(metrics, "/readyz").await;
        if status == 503 && body.contains("database") {
            ready_failed = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_failed = ready_failed.expect("/readyz failed while PostgreSQL was down");
    tokio::time::sleep(Duration::from_secs(3)).await;
    run_script(
        "pg-stack",
        &["resume", path_str(std::path::Path::new(&dir))],
    );
    println!(
        "PostgreSQL down {:?}; /readyz said: {ready_failed}",
        down.elapsed()
    );

    eventually(Duration::from_secs(180), "every reply sent", || {
        all_sent(&app, MESSAGES as i64)
    })
    .await;
    eventually(Duration::from_secs(60), "/readyz passing again", || async {
        get(metrics, "/readyz").await.0 == 200
    })
    .await;
    assert!(serve.try_wait().unwrap().is_none(), "serve kept running");
    assert!(terminate(&mut serve).success());
    each_stored_and_processed_once(&app, MESSAGES as i64).await;
    assert_eq!(repeated_acknowledgements(&donors).await, 0);
}
