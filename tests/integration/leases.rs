//! Leases, not resets (#12): while one `serve` drains a backlog, a second
//! `serve` started on the same database is refused without disturbing it,
//! and CLI commands run in a loop change no claim. Every donor gets one
//! reply; no message is processed twice.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use supplyline::state::ReplyState;

use crate::app::{donation, eventually, terminate, unique_id, App};
use crate::common::{append, fetch_all, stack_shared, unique_address};

/// `supplyline ARGS` with the app's config; its output.
fn cli(app: &App, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(app.config_path())
        .args(args)
        .env("USER", "ops")
        .stdin(Stdio::null())
        .output()
        .expect("running supplyline")
}

/// Runs `offers list`, `messages list` and `users add` one after another
/// until `stop`; how many commands ran. Panics on a failing command.
fn cli_loop(
    app_config: std::path::PathBuf,
    password: std::path::PathBuf,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut runs = 0;
    let commands: [&[&str]; 3] = [
        &["offers", "list"],
        &["messages", "list"],
        &[
            "users",
            "add",
            "viewer@city.example",
            "--role",
            "viewer",
            "--password-file",
        ],
    ];
    while !stop.load(Ordering::Relaxed) {
        for args in commands {
            let mut command = Command::new(env!("CARGO_BIN_EXE_supplyline"));
            command.arg("--config").arg(&app_config).args(args);
            if args[0] == "users" {
                command.arg(&password);
            }
            let out = command
                .env("USER", "ops")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "supplyline {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            runs += 1;
        }
    }
    runs
}

/// Starts a second `serve` and waits (at most 60 s) for it to exit.
async fn second_serve(app: &App, n: usize) -> (std::process::ExitStatus, String) {
    let log = app.path(&format!("second-{n}.log"));
    let mut child: Child = app.spawn_process(&log);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, std::fs::read_to_string(&log).unwrap());
        }
        if tokio::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "a second serve kept running on the same database:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn all_sent(app: &App, n: i64) -> bool {
    app.store.reply_counts().await.unwrap() == vec![(ReplyState::Sent, n)]
}

/// One number from the database.
async fn count(app: &App, sql: &str) -> i64 {
    crate::app::db_number(&app.db_url, sql).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_and_cli_commands_during_a_backlog_take_no_claim() {
    const MESSAGES: usize = 300;
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let donors: Vec<String> = (0..MESSAGES).map(|_| unique_address("donor")).collect();
    for (i, donor) in donors.iter().enumerate() {
        let body = format!("We can donate {} N95 masks.", 100 + i);
        append(
            &app.donations,
            "INBOX",
            &donation(donor, &app.donations, &unique_id(), &body),
        )
        .await;
    }
    let password = app.path("viewer-password");
    std::fs::write(&password, "a viewer password\n").unwrap();

    let mut first = app.spawn_process(&app.path("first.log"));
    eventually(Duration::from_secs(60), "the first offers", || async {
        !app.store.list_offers(None, 1).await.unwrap().is_empty()
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let looping = {
        let (config, stop) = (app.config_path(), stop.clone());
        std::thread::spawn(move || cli_loop(config, password, stop))
    };
    let mut refusals = Vec::new();
    for n in 0..3 {
        refusals.push(second_serve(&app, n).await);
    }
    let replies_when_refused = app.store.reply_counts().await.unwrap();
    eventually(Duration::from_secs(180), "every reply sent", || {
        all_sent(&app, MESSAGES as i64)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let cli_runs = looping.join().expect("every CLI command succeeded");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first serve still runs"
    );
    assert!(
        terminate(&mut first).success(),
        "the first serve stops cleanly"
    );

    for (status, log) in &refusals {
        assert!(
            !status.success(),
            "a second serve exits with an error:\n{log}"
        );
        assert!(
            log.contains("another supplyline serve is running on this database"),
            "the second serve says why:\n{log}"
        );
    }
    println!(
        "{cli_runs} CLI commands; second serve refused 3 times (replies then: {replies_when_refused:?})"
    );
    assert!(cli_runs >= 3);
    let first_log = std::fs::read_to_string(app.path("first.log")).unwrap();
    assert!(!first_log.contains("a stage stopped"), "{first_log}");

    assert_eq!(
        app.store.list_offers(None, 1000).await.unwrap().len(),
        MESSAGES
    );
    let claimed_again = count(&app, "SELECT COUNT(*) FROM messages WHERE attempts != 1").await;
    assert_eq!(claimed_again, 0, "no message claimed twice");
    let offers_made = count(
        &app,
        "SELECT COUNT(*) FROM audit_events WHERE action = 'offer_created'",
    )
    .await;
    assert_eq!(offers_made, MESSAGES as i64, "no message processed twice");
    let mut answered = 0;
    for donor in &donors {
        let replies = fetch_all(donor, "INBOX").await.len();
        assert_eq!(replies, 1, "{donor}'s acknowledgements");
        answered += replies;
    }
    assert_eq!(answered, MESSAGES);
    assert!(cli(&app, &["offers", "list"]).status.success());
}
